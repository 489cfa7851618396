"""`PosTagger`: one tag per token; token lists, whitespace text or word ids in."""

import keras
import numpy as np
import tensorflow as tf

from kerasrnn.data.input_checks import MAX_SENTENCE_TOKENS, bound_attribute, check_utf8_text, sentence_too_long
from kerasrnn.tasks.pos_tagger.preprocessor import PosTaggerPreprocessor  # noqa: F401  (registers it for loading)
from kerasrnn.tasks.pos_tagger.builder import PosTaggerHead
from kerasrnn.tasks.task_model import TaskModel


@keras.saving.register_keras_serializable(package="kerasrnn")
class PosTagger(TaskModel):
    """A many-to-many recurrent tagger with its vocabularies and tag names inside.

    The graph is the integer-id network of `build_pos_tagger`; the
    `PosTaggerPreprocessor` turns sentences (lists of words, or strings
    split on whitespace) into word (and character) ids in the `tf.data`
    pipeline. Its metric is the accuracy over all real tokens, punctuation
    included, exactly as `kerasrnn evaluate` reports it.

    A sentence of more than `max_sentence_tokens` words (1,000 unless set on
    the model; EWT's longest has 159) is refused by `predict_text`, and by
    `fit`, `evaluate` and `predict` on raw sentences, so that one input
    cannot take minutes and gigabytes (see `kerasrnn.data.input_checks`).

    Args:
        network: the network `build_pos_tagger` returns.
        preprocessor: a `PosTaggerPreprocessor`.

    Attributes:
        max_sentence_tokens: the bound on a sentence's words (not saved with
            the model); `model.max_sentence_tokens = 5000` raises it.

    Example:

    >>> from kerasrnn.tasks.pos_tagger import PosTaggerPreprocessor, build_pos_tagger
    >>> words = ["", "[UNK]", "the", "dog", "barks"]
    >>> model = PosTagger(build_pos_tagger(len(words), 3, units=4, embedding_dim=4),
    ...                   PosTaggerPreprocessor(words, ["DET", "NOUN", "VERB"]))
    >>> history = model.fit([["the", "dog", "barks"]], [["DET", "NOUN", "VERB"]], epochs=1, verbose=0)
    >>> model.predict(["the dog barks", "the dog"], verbose=0).shape
    (2, 3, 3)
    >>> [word for word, tag in model.predict_text("The dog barks .")]
    ['The', 'dog', 'barks', '.']
    """

    task_name = "pos_tagger"
    input_limit_names = ("max_sentence_tokens",)
    max_sentence_tokens = bound_attribute("max_sentence_tokens", MAX_SENTENCE_TOKENS)

    head_class = PosTaggerHead

    def evaluation_data_options(self):
        """The input limits and the CoNLL-U column the tags came from (`"upos"` or `"xpos"`)."""
        return {**self.input_limits(), "tag_column": self.preprocessor.tag_column}

    def examples(self, x, y=None):
        from kerasrnn.tasks.pos_tagger.data import sentence_examples

        return sentence_examples(self.preprocessor, x, y, self.max_sentence_tokens)

    def serving_endpoints(self):
        from kerasrnn.tasks.pos_tagger.signatures import pos_tagger_endpoints

        return pos_tagger_endpoints(self)

    def predict_text(self, text):
        """Tag a whitespace-tokenized sentence; returns `[(word, tag), ...]`.

        A sentence of more than `max_sentence_tokens` words, or a str holding
        bytes that were not UTF-8 (surrogates), is refused in one line.

        Example:

        >>> model.predict_text("The dog barks .")  # doctest: +SKIP
        [('The', 'DET'), ('dog', 'NOUN'), ('barks', 'VERB'), ('.', 'PUNCT')]
        """
        words = check_utf8_text(text, "The sentence to tag").split() if isinstance(text, str) else []
        if not words:
            raise ValueError(f"The sentence to tag must be non-empty text. Received: {text!r}")
        if len(words) > self.max_sentence_tokens:
            raise sentence_too_long("The sentence to tag", len(words), self.max_sentence_tokens)
        scores = np.asarray(self(self.preprocessor(tf.constant([words])), training=False))[0]
        return [(word, self.preprocessor.tags[int(index)]) for word, index in zip(words, np.argmax(scores, axis=-1))]
