"""A pass-through layer that records what each output class is called."""

import keras


@keras.saving.register_keras_serializable(package="kerasrnn")
class LabelNames(keras.layers.Layer):
    """Return its input unchanged and keep the class names in the model config.

    A model ending in this layer carries the names of its output classes
    (sentiment labels, POS tags, characters) inside its `.keras` file, so a
    saved model needs no side files to turn a probability vector into a
    readable answer.

    Args:
        labels: the class names, one per index of the last axis.

    Example:

    >>> import numpy as np
    >>> layer = LabelNames(["neg", "pos"])
    >>> tuple(layer(np.array([[0.2, 0.8]], "float32")).shape)
    (1, 2)
    >>> layer.labels
    ['neg', 'pos']
    """

    def __init__(self, labels, **kwargs):
        super().__init__(**kwargs)
        self.labels = [str(label) for label in labels]
        self.supports_masking = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "labels": list(self.labels)}
