"""Review text → word ids, and label names → label ids, for the sentiment classifier."""

import keras
import numpy as np
import tensorflow as tf

from kerasrnn.layers.standardize import standardize_review
from kerasrnn.tasks.model_parts import as_strings
from kerasrnn.tasks.preprocessor import Preprocessor
from kerasrnn.validation import check_positive_int

LABELS = ("neg", "pos")


@keras.saving.register_keras_serializable(package="kerasrnn")
class SentimentPreprocessor(Preprocessor):
    """Turn raw reviews into padded word ids cut to `max_length` tokens.

    Reviews are standardized (lowercase, `<br />` removed, punctuation split
    off) and looked up in the vocabulary; 0 is padding and 1 an unknown word.
    A batch is padded to its longest review only, never to `max_length`.

    Args:
        vocabulary: the words, index 0 `""` (padding) and 1 `"[UNK]"` first,
            as `TextVectorization.get_vocabulary()` returns them.
        labels: the class names, one per output of the classifier.
        max_length: keep the first `max_length` tokens of a review.

    Example:

    >>> preprocessor = SentimentPreprocessor(["", "[UNK]", "good", "film"])
    >>> preprocessor(tf.constant(["Good film!", "Good"])).numpy().tolist()
    [[2, 3, 1], [2, 0, 0]]
    >>> preprocessor.target_ids(["pos", "neg"]).tolist()
    [1, 0]
    """

    def __init__(self, vocabulary, labels=LABELS, max_length=400, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary = as_strings(vocabulary)
        self.labels = as_strings(labels)
        self.max_length = check_positive_int("max_length", max_length)
        self.vectorizer = keras.layers.TextVectorization(
            vocabulary=self.vocabulary, standardize=standardize_review, name="text_vectorization"
        )

    def call(self, text):
        ids = tf.cast(self.vectorizer(text), tf.int32)[..., : self.max_length]
        if ids.shape.rank == 2:
            # A batch of empty reviews still gets one (padding) step.
            ids = tf.pad(ids, [[0, 0], [0, tf.maximum(1 - tf.shape(ids)[1], 0)]])
        return ids

    def check_network_sizes(self, embedding_input_dims, outputs):
        """Refuse a network too small for the vocabulary, or with another number of classes, in one line.

        A larger embedding only has rows no id reaches, so it is accepted.

        Args:
            embedding_input_dims: the network's embedding `input_dim`s (its vocab_size).
            outputs: the network's number of classes.

        Example:

        >>> SentimentPreprocessor(["", "[UNK]", "good", "film"]).check_network_sizes([3], 2)
        Traceback (most recent call last):
        ...
        ValueError: The network's vocab_size is 3 but the preprocessor's vocabulary has 4 ids (0 = padding, 1 = out-of-vocabulary, then the words): build it with vocab_size=len(preprocessor.vocabulary)=4.
        """
        self.check_word_vocabulary_size(embedding_input_dims, self.vocabulary)
        if outputs != len(self.labels):
            raise ValueError(
                f"The network has {outputs} classes but the preprocessor has {len(self.labels)} labels "
                f"{list(self.labels)}: build it with num_classes={len(self.labels)}."
            )

    def target_ids(self, labels):
        """Label names (or ids) → int32 label ids; an unknown name is an error naming it."""
        return self.names_to_ids(labels, self.labels, "label")

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary": list(self.vocabulary),
            "labels": list(self.labels),
            "max_length": self.max_length,
        }
