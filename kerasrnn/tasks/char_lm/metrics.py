"""The char LM's metrics: cross-entropy per character in nats and in bits."""

import math

import keras


@keras.saving.register_keras_serializable(package="kerasrnn")
def bits_per_character(y_true, y_pred):
    """Cross-entropy of the next character from logits, in bits (nats / ln 2).

    Example:

    >>> import numpy as np
    >>> round(float(bits_per_character(np.array([0]), np.zeros((1, 4), "float32"))[0]), 3)
    2.0
    """
    return keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True) / math.log(2)


def nats_per_character():
    """The mean cross-entropy of the next character, in nats (Keras' own metric, named for the task).

    Example:

    >>> nats_per_character().name
    'nats_per_char'
    """
    return keras.metrics.SparseCategoricalCrossentropy(from_logits=True, name="nats_per_char")


def bits_per_character_metric():
    """The mean cross-entropy of the next character, in bits.

    Example:

    >>> bits_per_character_metric().name
    'bits_per_char'
    """
    return keras.metrics.MeanMetricWrapper(bits_per_character, name="bits_per_char")
