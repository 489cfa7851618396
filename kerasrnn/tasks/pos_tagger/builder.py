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


def build_pos_tagger(
    vocab_size,
    num_tags,
    cell="lstm",
    units=128,
    num_layers=1,
    bidirectional=True,
    embedding_dim=128,
    dropout=0.0,
    recurrent_dropout=0.0,
    kernel_initializer="glorot_uniform",
    recurrent_initializer="orthogonal",
    optimizer="adam",
    learning_rate=1e-3,
    clipnorm=None,
    clipvalue=None,
    global_clipnorm=None,
    char_vocab_size=None,
    char_embedding_dim=32,
    char_units=64,
    word_dropout=0.0,
):
    """Build and compile a part-of-speech tagger over integer word ids (a convenience).

    It is `build_task_network(PosTaggerHead, options)`: a `RecurrentBackbone`
    (with the optional character encoder) under a `PosTaggerHead`, as one
    flat functional network, compiled once with the head's loss and metrics.

    Id 0 is padding: it is masked, so it affects neither the other tokens'
    predictions nor the loss nor the accuracy.

    Args:
        vocab_size: number of word ids, padding (0) and OOV (1) included.
        num_tags: number of tag ids the softmax ranges over.
        cell: `"simple_rnn"`, `"lstm"` or `"gru"`.
        units: hidden units per recurrent layer and direction.
        num_layers: number of stacked recurrent layers.
        bidirectional: read the sentence in both directions.
        embedding_dim: size of the word embeddings.
        dropout: dropout rate on recurrent inputs and before the output layer.
        recurrent_dropout: dropout rate on the recurrent state.
        kernel_initializer: initializer of input kernels.
        recurrent_initializer: initializer of recurrent kernels.
        optimizer: optimizer name.
        learning_rate: the optimizer's learning rate.
        clipnorm: clip each gradient to this norm.
        clipvalue: clip each gradient component to this absolute value.
        global_clipnorm: clip all gradients together to this norm.
        char_vocab_size: if set, the model also reads each word's characters
            (ids, 0 = padding) with a character-level BiLSTM, and takes a
            second input `char_ids` of shape `(batch, time, characters)`.
        char_embedding_dim: size of the character embeddings.
        char_units: units per direction of the character LSTM.
        word_dropout: while training, replace this fraction of word ids by
            the unknown-word id, so the tagger learns to tag unseen words
            from their spelling (useful with `char_vocab_size`).

    Returns:
        A compiled `keras.Model` mapping `(batch, time)` int ids (and, with
        `char_vocab_size`, `(batch, time, characters)` char ids, passed as a
        dict `{"token_ids": ..., "char_ids": ...}`) to `(batch, time, num_tags)`
        probabilities.

    Example:

    >>> import numpy as np
    >>> model = build_pos_tagger(vocab_size=100, num_tags=18, units=8, embedding_dim=8)
    >>> model.predict(np.array([[4, 9, 2, 0]]), verbose=0).shape
    (1, 4, 18)
    """
    return build_task_network(PosTaggerHead, locals())
