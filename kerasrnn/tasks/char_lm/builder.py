"""Character-level language model: predicts character t+1 from characters 1..t."""

import keras

from kerasrnn.tasks.char_lm.metrics import bits_per_character_metric, nats_per_character
from kerasrnn.tasks.task_head import TaskHead, build_task_network


class CharLanguageModelHead(TaskHead):
    """The next character's logits at every step: the character language model's head.

    The model must be causal, so it refuses a bidirectional backbone, and a
    text has no padding, so the backbone masks nothing.

    Args:
        bidirectional: must be False.

    Example:

    >>> CharLanguageModelHead().backbone_options()
    {'bidirectional': False, 'mask_padding': False}
    """

    network_name = "char_lm"
    extra_options = ("stateful", "batch_size")
    defaults = {"units": 256, "num_layers": 2, "embedding_dim": 64, "learning_rate": 2e-3}

    def __init__(self, bidirectional=False):
        if bidirectional:
            raise ValueError(
                "`bidirectional=True` is not allowed for a character language model: it must be "
                "causal (predict character t+1 from characters up to t)."
            )

    def backbone_options(self):
        return {"bidirectional": False, "mask_padding": False}

    def outputs(self, backbone):
        return keras.layers.Dense(backbone.vocab_size, name="logits")(backbone.output)

    @staticmethod
    def loss():
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @staticmethod
    def metrics():
        return [nats_per_character(), bits_per_character_metric()]


def build_char_lm(vocab_size, **options):
    """Build and compile a next-character model trained with teacher forcing (a one-line convenience).

    It is `build_task_network(CharLanguageModelHead, {"vocab_size":
    vocab_size, **options})`: a `RecurrentBackbone` under a
    `CharLanguageModelHead`, as one flat functional network, compiled once
    with the head's loss and metrics.

    The model reads a window of character ids and returns, at every step,
    the logits of the next character. It is causal, so `bidirectional=True`
    is rejected. With `stateful=True` the recurrent state carries from one
    batch to the next, which is truncated backpropagation through time over
    `batch_size` contiguous streams of text (as char-rnn trains).

    Character ids are not the word models' (0 = padding, 1 =
    out-of-vocabulary): a text has no padding, id 0 is any unknown character
    and ids 1..N the N known characters, so `vocab_size = N + 1`, which is
    `len(CharLanguageModelPreprocessor(characters).labels)`. The published
    models use these ids. Embedding inputs and output logits both have
    `vocab_size` entries.

    Args:
        vocab_size: number of character ids: the known characters plus id 0
            for an unknown one (`len(characters) + 1`).
        **options: `stateful` (carry the recurrent state across batches)
            and `batch_size` (the fixed batch size a stateful model needs);
            and the options every task takes
            (`kerasrnn.tasks.task_head.SHARED_OPTIONS`: the backbone's, see
            `RecurrentBackbone`, and the optimizer's, see
            `kerasrnn.optimizers.check_optimizer_options`), of which
            `bidirectional` must stay False. This task's defaults where they
            differ from those: `CharLanguageModelHead.defaults` (units=256,
            num_layers=2, embedding_dim=64, learning_rate=0.002).

    Returns:
        A compiled `keras.Model` mapping `(batch, time)` int ids to
        `(batch, time, vocab_size)` logits.

    Raises:
        ValueError: naming an option that is wrong, or one the task does not take (listing those it takes).

    Example:

    >>> import numpy as np
    >>> model = build_char_lm(vocab_size=40, units=16, num_layers=1, embedding_dim=8, clipvalue=5.0)
    >>> model.predict(np.array([[3, 4, 5]]), verbose=0).shape
    (1, 3, 40)
    """
    return build_task_network(CharLanguageModelHead, {"vocab_size": vocab_size, **options})
