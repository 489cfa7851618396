"""Token accuracy over real (unpadded) tokens, the tagger's metric."""

import keras
from keras import ops

from kerasrnn.keras_adapter import get_keras_mask


@keras.saving.register_keras_serializable(package="kerasrnn")
class TokenAccuracy(keras.metrics.Metric):
    """Fraction of real (unmasked) tokens whose argmax prediction is the target.

    Keras' `"accuracy"` averages each sequence over its padded length before
    weighting, so over length-bucketed batches it weighs a token by one over
    its batch's length and differs from the accuracy over all tokens by a
    point or more. This metric counts correct and real tokens exactly, so
    `val_accuracy` equals what `kerasrnn evaluate` reports on the same file.

    Example:

    >>> import numpy as np
    >>> metric = TokenAccuracy()
    >>> metric.update_state(np.array([[1, 0]]), np.array([[[0.2, 0.8], [0.9, 0.1]]]))
    >>> metric.update_state(np.array([[1, 1, 1]]), np.array([[[0.9, 0.1]] * 3]))
    >>> round(float(metric.result()), 3)  # 2 of 5 tokens, whatever the lengths
    0.4
    """

    def __init__(self, name="accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        mask = get_keras_mask(y_pred)
        predicted = ops.argmax(y_pred, axis=-1)
        matches = ops.cast(ops.equal(ops.cast(y_true, predicted.dtype), predicted), self.dtype)
        weights = ops.ones_like(matches) if mask is None else ops.cast(mask, self.dtype)
        if sample_weight is not None:
            weights = weights * ops.cast(sample_weight, self.dtype)
        self.correct.assign_add(ops.sum(matches * weights))
        self.total.assign_add(ops.sum(weights))

    def result(self):
        return ops.divide_no_nan(self.correct, self.total)

    def reset_state(self):
        self.correct.assign(0.0)
        self.total.assign(0.0)
