"""Text standardization stored inside saved models (so no `Lambda` is needed)."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="kerasrnn")
def standardize_review(text):
    """Lowercase, turn HTML line breaks into spaces and split off punctuation.

    IMDB reviews contain `<br />` tags; Keras' default standardizer would turn
    them into the token "br". Punctuation marks become tokens of their own,
    since "!" and "?" carry sentiment.

    Example:

    >>> standardize_review(tf.constant("Great<br /><br />film!")).numpy()
    b'great  film ! '
    """
    text = tf.strings.lower(text)
    text = tf.strings.regex_replace(text, r"<br\s*/?>", " ")
    return tf.strings.regex_replace(text, r"([!?.,;:()\"])", r" \1 ")
