"""What every task's preprocessor shares: a Keras layer run inside `tf.data` on strings."""

import keras
import numpy as np
import tensorflow as tf


class Preprocessor(keras.layers.Layer):
    """Base of the task preprocessors: string inputs in, integer ids out.

    As KerasHub's preprocessing layers, it takes string tensors as they come
    (Keras would otherwise try to convert them to floats) and runs inside
    `tf.data` pipelines and serving signatures; it has no weights, only its
    vocabulary and label names, which are its config.

    Example:

    >>> Preprocessor.names_to_ids(["b", "a"], ["a", "b"], "label").tolist()
    [1, 0]
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True

    @staticmethod
    def check_word_vocabulary_size(embedding_input_dims, vocabulary):
        """Refuse a word embedding smaller than `vocabulary` (ids 0 = padding, 1 = out-of-vocabulary, then words).

        A larger embedding only has rows no id reaches, so it is accepted: a
        vocabulary may come out shorter than `TextVectorization`'s `max_tokens`.

        Example:

        >>> Preprocessor.check_word_vocabulary_size([3], ["", "[UNK]", "good", "film"])
        Traceback (most recent call last):
        ...
        ValueError: The network's vocab_size is 3 but the preprocessor's vocabulary has 4 ids (0 = padding, 1 = out-of-vocabulary, then the words): build it with vocab_size=len(preprocessor.vocabulary)=4.
        """
        for size in embedding_input_dims:
            if size < len(vocabulary):
                raise ValueError(
                    f"The network's vocab_size is {size} but the preprocessor's vocabulary has {len(vocabulary)} "
                    f"ids (0 = padding, 1 = out-of-vocabulary, then the words): build it with "
                    f"vocab_size=len(preprocessor.vocabulary)={len(vocabulary)}."
                )

    @staticmethod
    def names_to_ids(values, names, what):
        """Map class names to their index in `names`; integers pass through unchanged.

        Nested lists (one list per sentence) keep their nesting, as a ragged
        tensor's `to_list()` would.
        """
        if isinstance(values, (tf.Tensor, tf.RaggedTensor)):
            if values.dtype != tf.string:
                return tf.cast(values, tf.int32)
            # Inside a tf.data pipeline: compare with every name, in the graph.
            matches = tf.equal(tf.expand_dims(values, -1), tf.constant(list(names)))
            check = tf.debugging.assert_equal(
                tf.reduce_all(tf.reduce_any(matches, axis=-1)), True, message=f"unknown {what}: expected one of {list(names)}"
            )
            with tf.control_dependencies([check]):
                return tf.argmax(tf.cast(matches, tf.int32), axis=-1, output_type=tf.int32)
        index = {name: position for position, name in enumerate(names)}

        def convert(value):
            if isinstance(value, (list, tuple, np.ndarray)):
                return [convert(item) for item in value]
            if isinstance(value, bytes):
                value = value.decode("utf-8")
            if isinstance(value, str):
                if value not in index:
                    raise ValueError(f"Unknown {what} {value!r}: expected one of {list(names)} or an integer id.")
                return index[value]
            return int(value)

        converted = convert(values)
        if converted and isinstance(converted[0], list):
            return converted  # ragged: one list per example
        return np.asarray(converted, dtype="int32")
