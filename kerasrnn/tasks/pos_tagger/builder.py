"""Many-to-many recurrent tagger: one tag distribution per word token."""

import keras

from kerasrnn.tasks.pos_tagger.token_accuracy import TokenAccuracy
from kerasrnn.tasks.task_head import TaskHead, build_task_network
from kerasrnn.validation import check_positive_int


class PosTaggerHead(TaskHead):
    """A softmax over the tags at every step: the tagger's head.

    Args:
        num_tags: number of tag ids.

    Example:

    >>> PosTaggerHead(num_tags=18).num_tags
    18
    """

    network_name = "pos_tagger"
    extra_options = ("char_vocab_size", "char_embedding_dim", "char_units", "word_dropout")
    defaults = {"bidirectional": True}

    def __init__(self, num_tags):
        self.num_tags = check_positive_int("num_tags", num_tags)

    def outputs(self, backbone):
        return keras.layers.Dense(self.num_tags, activation="softmax", name="tag_probabilities")(backbone.output)

    @staticmethod
    def loss():
        return "sparse_categorical_crossentropy"

    @staticmethod
    def metrics():
        return [TokenAccuracy()]


def build_pos_tagger(vocab_size, num_tags, **options):
    """Build and compile a part-of-speech tagger over integer word ids (a one-line convenience).

    It is `build_task_network(PosTaggerHead, {"vocab_size": vocab_size,
    "num_tags": num_tags, **options})`: a `RecurrentBackbone` (with the
    optional character encoder) under a `PosTaggerHead`, as one flat
    functional network, compiled once with the head's loss and metrics.

    Id 0 is padding: it is masked, so it affects neither the other tokens'
    predictions nor the loss nor the accuracy.

    Args:
        vocab_size: number of word ids, padding (0) and OOV (1) included.
        num_tags: number of tag ids the softmax ranges over.
        **options: the character encoder's `char_vocab_size` (if set, the
            model also reads each word's characters, ids with 0 = padding,
            with a character-level BiLSTM, and takes a second input
            `char_ids` of shape `(batch, time, characters)`),
            `char_embedding_dim` (default 32) and `char_units` (units per
            direction, default 64); `word_dropout` (while training, replace
            this fraction of word ids by the unknown-word id, so the tagger
            learns to tag unseen words from their spelling); and the options
            every task takes (`kerasrnn.tasks.task_head.SHARED_OPTIONS`: the
            backbone's, see `RecurrentBackbone`, and the optimizer's, see
            `kerasrnn.optimizers.check_optimizer_options`). This task's
            defaults where they differ from those: `PosTaggerHead.defaults`
            (bidirectional=True).

    Returns:
        A compiled `keras.Model` mapping `(batch, time)` int ids (and, with
        `char_vocab_size`, `(batch, time, characters)` char ids, passed as a
        dict `{"token_ids": ..., "char_ids": ...}`) to `(batch, time, num_tags)`
        probabilities.

    Raises:
        ValueError: naming an option that is wrong, or one the task does not take (listing those it takes).

    Example:

    >>> import numpy as np
    >>> model = build_pos_tagger(vocab_size=100, num_tags=18, units=8, embedding_dim=8, optimizer="rmsprop")
    >>> model.predict(np.array([[4, 9, 2, 0]]), verbose=0).shape
    (1, 4, 18)
    """
    return build_task_network(PosTaggerHead, {"vocab_size": vocab_size, "num_tags": num_tags, **options})
