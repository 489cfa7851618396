"""Word dropout: during training, replace random word ids by the unknown-word id."""

import keras
from keras import ops

from kerasrnn.validation import check_rate


@keras.saving.register_keras_serializable(package="kerasrnn")
class WordDropout(keras.layers.Layer):
    """Replace each real word id by `unknown_id` with probability `rate` while training.

    A tagger only ever sees the unknown-word embedding for words too rare to
    be in its vocabulary, so at test time, where unseen words are far more
    common, it has not learned to lean on the character encoder for them.
    Dropping known words to the unknown id during training teaches exactly
    that. Padding (id 0) is never touched, so masks are unchanged; at
    inference the layer is the identity.

    Args:
        rate: probability of replacing a word, in [0, 1).
        unknown_id: the id words are replaced with (1 for `StringLookup`'s OOV).
        seed: seed of the random replacements.

    Example:

    >>> import numpy as np
    >>> ids = np.array([[5, 7, 0]])
    >>> WordDropout(0.5)(ids).numpy().tolist()  # inference: unchanged
    [[5, 7, 0]]
    >>> dropped = WordDropout(0.999, seed=1)(ids, training=True).numpy().tolist()
    >>> dropped
    [[1, 1, 0]]
    """

    def __init__(self, rate, unknown_id=1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_rate("rate", rate)
        self.unknown_id = int(unknown_id)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        drop = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator) < self.rate
        drop = ops.logical_and(drop, ops.not_equal(inputs, 0))
        return ops.where(drop, ops.cast(self.unknown_id, inputs.dtype), inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "unknown_id": self.unknown_id, "seed": self.seed}
