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
    extra_options = ("word_dropout",)
    defaults = {"units": 64, "bidirectional": True, "learning_rate": 2e-3}

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


def build_sentiment_classifier(vocab_size, **options):
    """Build and compile a sentiment classifier over integer token ids (a one-line convenience).

    It is `build_task_network(SentimentHead, {"vocab_size": vocab_size, **options})`:
    a `RecurrentBackbone` (see `kerasrnn.tasks.recurrent_backbone`) under a
    `SentimentHead`, as one flat functional network, compiled once with the
    head's loss and metrics.

    Id 0 is padding and is masked: a review padded to any length gets the
    same prediction. The model ends in a softmax over `num_classes` and is
    trained with sparse categorical cross-entropy on integer labels.

    The defaults (bidirectional LSTM, masked max pooling, learning rate 2e-3
    for batches of 128) are the fastest settings measured on a CPU that lose
    no accuracy: see benchmarks/RESULTS.md. (The LSTM's fused masked kernel
    trains faster on a CPU than the GRU despite its fourth gate.)

    Args:
        vocab_size: number of token ids, padding (0) and OOV (1) included.
        **options: the head's `num_classes` (default 2) and `pooling`
            (`"last"`: the final state of each direction; `"mean"` or
            `"max"`, the default, over the outputs of every real step);
            `word_dropout` (while training, replace this fraction of word
            ids by the unknown-word id, so the classifier cannot lean on a
            few telling words of each training review; 0 = off); and the
            options every task takes (`kerasrnn.tasks.task_head.SHARED_OPTIONS`):
            the backbone's `cell`, `units`, `num_layers`, `bidirectional`,
            `embedding_dim`, `dropout`, `recurrent_dropout`,
            `kernel_initializer`, `recurrent_initializer` (see
            `RecurrentBackbone`) and the optimizer's `optimizer`,
            `learning_rate`, `clipnorm`, `clipvalue`, `global_clipnorm` (see
            `kerasrnn.optimizers.check_optimizer_options`). This task's
            defaults where they differ from those: `SentimentHead.defaults`
            (units=64, bidirectional=True, learning_rate=0.002).

    Returns:
        A compiled `keras.Model` mapping `(batch, time)` int ids to
        `(batch, num_classes)` probabilities.

    Raises:
        ValueError: naming an option that is wrong, or one the task does not take (listing those it takes).

    Example:

    >>> import numpy as np
    >>> model = build_sentiment_classifier(vocab_size=100, units=8, embedding_dim=8, cell="gru", clipnorm=1.0)
    >>> model.predict(np.array([[5, 6, 7, 0, 0]]), verbose=0).shape
    (1, 2)
    """
    return build_task_network(SentimentHead, {"vocab_size": vocab_size, **options})
