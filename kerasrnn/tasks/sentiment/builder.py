"""Many-to-one recurrent classifier: a review in, class probabilities out."""

import keras

from kerasrnn.layers.masked_max_pooling import MaskedGlobalMaxPooling1D
from kerasrnn.tasks.task_head import TaskHead, build_task_network
from kerasrnn.validation import check_choice, check_positive_int

# Both pooling layers honour the padding mask (Keras' own max pooling does not).
POOLING = {"last": None, "mean": keras.layers.GlobalAveragePooling1D, "max": MaskedGlobalMaxPooling1D}


class SentimentHead(TaskHead):
    """Pooling over the steps, then a softmax over the classes: the sentiment task's head.

    Args:
        num_classes: number of classes, at least 2.
        pooling: `"last"` (the backbone returns only its final state),
            `"mean"` or `"max"` over every real step.

    Example:

    >>> SentimentHead(num_classes=3, pooling="last").backbone_options()
    {'return_sequences': False}
    """

    network_name = "sentiment"

    def __init__(self, num_classes=2, pooling="max"):
        self.num_classes = check_positive_int("num_classes", num_classes)
        if self.num_classes < 2:
            raise ValueError(f"`num_classes` must be at least 2. Received: num_classes={num_classes}")
        self.pooling = check_choice("pooling", pooling, tuple(POOLING))

    def backbone_options(self):
        return {"return_sequences": self.pooling != "last"}

    def outputs(self, backbone):
        x = backbone.output
        if self.pooling != "last":
            x = POOLING[self.pooling](name=f"{self.pooling}_pooling")(x)
        return keras.layers.Dense(self.num_classes, activation="softmax", name="probabilities")(x)

    @staticmethod
    def loss():
        return "sparse_categorical_crossentropy"

    @staticmethod
    def metrics():
        return ["accuracy"]


def build_sentiment_classifier(
    vocab_size,
    num_classes=2,
    cell="lstm",
    units=64,
    num_layers=1,
    bidirectional=True,
    embedding_dim=128,
    dropout=0.0,
    recurrent_dropout=0.0,
    kernel_initializer="glorot_uniform",
    recurrent_initializer="orthogonal",
    optimizer="adam",
    learning_rate=2e-3,
    clipnorm=None,
    clipvalue=None,
    global_clipnorm=None,
    pooling="max",
    word_dropout=0.0,
):
    """Build and compile a sentiment classifier over integer token ids (a convenience).

    It is `build_task_network(SentimentHead, options)`: a `RecurrentBackbone`
    (see `kerasrnn.tasks.recurrent_backbone`) under a `SentimentHead`, as one
    flat functional network, compiled once with the head's loss and metrics.

    Id 0 is padding and is masked: a review padded to any length gets the
    same prediction. The model ends in a softmax over `num_classes` and is
    trained with sparse categorical cross-entropy on integer labels.

    The defaults (bidirectional LSTM, masked max pooling, learning rate 2e-3
    for batches of 128) are the fastest settings measured on a CPU that lose
    no accuracy: see benchmarks/RESULTS.md.

    Args:
        vocab_size: number of token ids, padding (0) and OOV (1) included.
        num_classes: number of classes (2 for positive/negative).
        cell: `"simple_rnn"`, `"lstm"` or `"gru"` (default: LSTM, whose
            fused masked kernel trains faster on a CPU than the GRU despite
            its fourth gate).
        units: hidden units per recurrent layer and direction.
        num_layers: number of stacked recurrent layers.
        bidirectional: read the review in both directions.
        embedding_dim: size of the token embeddings.
        dropout: dropout rate on recurrent inputs and before the classifier.
        recurrent_dropout: dropout rate on the recurrent state.
        kernel_initializer: initializer of input kernels (e.g. `"glorot_uniform"`, `"he_normal"`).
        recurrent_initializer: initializer of recurrent kernels (default `"orthogonal"`).
        optimizer: optimizer name (`"adam"`, `"rmsprop"`, `"sgd"`, ...).
        learning_rate: the optimizer's learning rate.
        clipnorm: clip each gradient to this norm.
        clipvalue: clip each gradient component to this absolute value.
        global_clipnorm: clip all gradients together to this norm.
        pooling: how the sequence becomes one vector: `"last"` (the final
            state of each direction), `"mean"` or `"max"` over the outputs of
            every real (unpadded) step (default `"max"`).
        word_dropout: while training, replace this fraction of word ids by
            the unknown-word id, so the classifier cannot lean on a few
            telling words of each training review (a regularizer; 0 = off).

    Returns:
        A compiled `keras.Model` mapping `(batch, time)` int ids to
        `(batch, num_classes)` probabilities.

    Example:

    >>> import numpy as np
    >>> model = build_sentiment_classifier(vocab_size=100, units=8, embedding_dim=8)
    >>> model.predict(np.array([[5, 6, 7, 0, 0]]), verbose=0).shape
    (1, 2)
    """
    return build_task_network(SentimentHead, locals())
