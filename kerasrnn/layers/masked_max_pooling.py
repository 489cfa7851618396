"""Max over time that ignores padded steps."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasrnn")
class MaskedGlobalMaxPooling1D(keras.layers.Layer):
    """Feature-wise maximum over the time axis, taken over unmasked steps only.

    Keras' `GlobalMaxPooling1D` ignores masks, so the zeros a masked
    (bidirectional) RNN emits at padded steps would enter the maximum and a
    review's prediction would depend on how much it was padded.

    Call arguments:
        inputs: `(batch, time, features)`.
        mask: optional boolean `(batch, time)`; True marks real steps.

    Example:

    >>> import numpy as np
    >>> x = np.array([[[-1.0], [-2.0], [0.0]]], "float32")
    >>> mask = np.array([[True, True, False]])
    >>> MaskedGlobalMaxPooling1D()(x, mask=mask).numpy().tolist()
    [[-1.0]]
    >>> MaskedGlobalMaxPooling1D()(x, mask=np.zeros((1, 3), bool)).numpy().tolist()
    [[0.0]]
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            real = ops.expand_dims(ops.cast(mask, "bool"), -1)
            inputs = ops.where(real, inputs, ops.full_like(inputs, float("-inf")))
            pooled = ops.max(inputs, axis=1)
            # A sequence with no real step (an empty review) pools to zeros, not -inf.
            return ops.where(ops.any(real, axis=1), pooled, ops.zeros_like(pooled))
        return ops.max(inputs, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])
