"""A word-level language model's loss over a large vocabulary, by sampled softmax."""

import keras
import tensorflow as tf

from kerasrnn.validation import check_positive_int


@keras.saving.register_keras_serializable(package="kerasrnn")
class SampledLanguageModelLoss(keras.layers.Layer):
    """Add the loss of predicting each next (and, bidirectionally, previous) word.

    The hidden state at step `t` of a forward recurrent layer has read words
    `1..t` and is trained to predict word `t+1`; with `bidirectional`, the
    second half of the features (a `Bidirectional` layer's backward
    direction, which has read words `t..T`) is trained to predict word
    `t-1`. Both directions share one output embedding, as in ELMo.

    A full softmax over a 30,000-word vocabulary would cost more than the
    recurrent layer itself, so training uses TensorFlow's sampled softmax
    (`tf.nn.sampled_softmax_loss`, with its default log-uniform sampler,
    which suits a vocabulary sorted by frequency as `TextVectorization`
    sorts it). Padding (id 0) is never a target. The layer adds the mean
    loss per predicted word with `add_loss` and returns it, so a model
    compiled with no loss trains on it; it is the same sampled loss in
    evaluation, an estimate rather than the full-softmax perplexity.

    Args:
        vocab_size: number of word ids, padding (0) and unknown (1) included.
        num_sampled: negative words sampled per batch.
        bidirectional: the features are `[forward, backward]` halves.
        seed: seed of the sampler.

    Example:

    >>> import numpy as np
    >>> loss = SampledLanguageModelLoss(vocab_size=50, num_sampled=8, seed=1)
    >>> hidden = np.random.default_rng(0).normal(size=(2, 4, 6)).astype("float32")
    >>> ids = np.array([[5, 6, 7, 0], [9, 3, 0, 0]], "int32")
    >>> value = loss([hidden, ids])
    >>> bool(value > 0), len(loss.losses)
    (True, 1)
    """

    def __init__(self, vocab_size, num_sampled=512, bidirectional=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        self.num_sampled = check_positive_int("num_sampled", num_sampled)
        if self.num_sampled >= self.vocab_size:
            raise ValueError(
                f"`num_sampled` must be smaller than `vocab_size` ({self.vocab_size}). "
                f"Received: num_sampled={num_sampled}"
            )
        self.bidirectional = bool(bidirectional)
        self.seed = seed
        # The padding mask is honoured (padding is never a target); the output, a scalar, has none.
        self.supports_masking = True

    def build(self, input_shapes):
        hidden_shape, _ = input_shapes
        features = hidden_shape[-1]
        if features is None or (self.bidirectional and features % 2):
            raise ValueError(
                f"The hidden features must have a known size{' that is even' if self.bidirectional else ''} "
                f"(forward and backward halves). Received shape: {hidden_shape}"
            )
        self.units = features // 2 if self.bidirectional else features
        self.output_embedding = self.add_weight(
            shape=(self.vocab_size, self.units), initializer="glorot_uniform", name="output_embedding"
        )
        self.output_bias = self.add_weight(shape=(self.vocab_size,), initializer="zeros", name="output_bias")

    def _direction_loss(self, hidden, targets):
        # Only real words are predicted: padding positions are dropped before the softmax.
        real = tf.not_equal(targets, 0)
        hidden = tf.boolean_mask(hidden, real)
        targets = tf.cast(tf.boolean_mask(targets, real), tf.int64)[:, None]
        losses = tf.nn.sampled_softmax_loss(
            weights=self.output_embedding,
            biases=self.output_bias,
            labels=targets,
            inputs=hidden,
            num_sampled=self.num_sampled,
            num_classes=self.vocab_size,
            seed=self.seed,
        )
        return tf.reduce_sum(losses), tf.cast(tf.size(losses), hidden.dtype)

    def call(self, inputs):
        hidden, token_ids = inputs
        hidden = tf.cast(hidden, self.compute_dtype)
        token_ids = tf.cast(token_ids, tf.int32)
        total, count = self._direction_loss(hidden[:, :-1, : self.units], token_ids[:, 1:])
        if self.bidirectional:
            backward_total, backward_count = self._direction_loss(hidden[:, 1:, self.units :], token_ids[:, :-1])
            total, count = total + backward_total, count + backward_count
        loss = tf.math.divide_no_nan(total, count)
        self.add_loss(loss)
        return loss

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shapes):
        return ()

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "num_sampled": self.num_sampled,
            "bidirectional": self.bidirectional,
            "seed": self.seed,
        }
