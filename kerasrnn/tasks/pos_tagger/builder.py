"""Many-to-many recurrent tagger: one tag distribution per word token."""

import keras

from kerasrnn.layers.char_word_encoder import CharacterWordEncoder
from kerasrnn.layers.word_dropout import WordDropout
from kerasrnn.tasks.pos_tagger.token_accuracy import TokenAccuracy
from kerasrnn.tasks.recurrent_body import compile_model, embedded_recurrent_body
from kerasrnn.validation import check_positive_int, check_rate


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
    """Build and compile a part-of-speech tagger over integer word ids.

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
    num_tags = check_positive_int("num_tags", num_tags)
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    inputs, spelling = token_ids, None
    if char_vocab_size is not None:
        char_ids = keras.Input(shape=(None, None), dtype="int32", name="char_ids")
        inputs = {"token_ids": token_ids, "char_ids": char_ids}
        spelling = CharacterWordEncoder(char_vocab_size, char_embedding_dim, char_units, name="spelling")(char_ids)
    word_ids = token_ids
    if check_rate("word_dropout", word_dropout):
        word_ids = WordDropout(word_dropout, name="word_dropout")(token_ids)
    x = embedded_recurrent_body(
        word_ids,
        vocab_size,
        embedding_dim,
        mask_padding=True,
        dropout=dropout,
        bidirectional=bidirectional,
        extra_features=spelling,
        cell=cell,
        units=units,
        num_layers=num_layers,
        recurrent_dropout=recurrent_dropout,
        kernel_initializer=kernel_initializer,
        recurrent_initializer=recurrent_initializer,
        return_sequences=True,
    )
    probabilities = keras.layers.Dense(num_tags, activation="softmax", name="tag_probabilities")(x)
    model = keras.Model(inputs, probabilities, name=f"pos_tagger_{cell}")
    compile_model(
        model,
        loss="sparse_categorical_crossentropy",
        metrics=[TokenAccuracy()],
        optimizer=optimizer,
        learning_rate=learning_rate,
        clipnorm=clipnorm,
        clipvalue=clipvalue,
        global_clipnorm=global_clipnorm,
    )
    return model
