"""Character-level language model: predicts character t+1 from characters 1..t."""

import keras

from kerasrnn.tasks.recurrent_body import compile_model, embedded_recurrent_body
from kerasrnn.validation import check_positive_int


def build_char_lm(
    vocab_size,
    cell="lstm",
    units=256,
    num_layers=2,
    bidirectional=False,
    embedding_dim=64,
    dropout=0.0,
    recurrent_dropout=0.0,
    kernel_initializer="glorot_uniform",
    recurrent_initializer="orthogonal",
    optimizer="adam",
    learning_rate=2e-3,
    clipnorm=None,
    clipvalue=None,
    global_clipnorm=None,
    stateful=False,
    batch_size=None,
):
    """Build and compile a next-character model trained with teacher forcing.

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
        cell: `"simple_rnn"`, `"lstm"` or `"gru"`.
        units: hidden units per recurrent layer.
        num_layers: number of stacked recurrent layers.
        bidirectional: must be False; present so every builder takes the same options.
        embedding_dim: size of the character embeddings.
        dropout: dropout rate on recurrent inputs and before the output layer.
        recurrent_dropout: dropout rate on the recurrent state.
        kernel_initializer: initializer of input kernels.
        recurrent_initializer: initializer of recurrent kernels.
        optimizer: optimizer name.
        learning_rate: the optimizer's learning rate.
        clipnorm: clip each gradient to this norm.
        clipvalue: clip each gradient component to this absolute value.
        global_clipnorm: clip all gradients together to this norm.
        stateful: carry the recurrent state across batches.
        batch_size: the fixed batch size a stateful model needs.

    Returns:
        A compiled `keras.Model` mapping `(batch, time)` int ids to
        `(batch, time, vocab_size)` logits.

    Example:

    >>> import numpy as np
    >>> model = build_char_lm(vocab_size=40, units=16, num_layers=1, embedding_dim=8)
    >>> model.predict(np.array([[3, 4, 5]]), verbose=0).shape
    (1, 3, 40)
    """
    if bidirectional:
        raise ValueError(
            "`bidirectional=True` is not allowed for a character language model: it must be "
            "causal (predict character t+1 from characters up to t)."
        )
    if stateful:
        batch_size = check_positive_int("batch_size", batch_size)
        token_ids = keras.Input(batch_shape=(batch_size, None), dtype="int32", name="token_ids")
    else:
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = embedded_recurrent_body(
        token_ids,
        vocab_size,
        embedding_dim,
        mask_padding=False,
        dropout=dropout,
        bidirectional=False,
        cell=cell,
        units=units,
        num_layers=num_layers,
        recurrent_dropout=recurrent_dropout,
        kernel_initializer=kernel_initializer,
        recurrent_initializer=recurrent_initializer,
        return_sequences=True,
        stateful=stateful,
    )
    logits = keras.layers.Dense(vocab_size, name="logits")(x)
    model = keras.Model(token_ids, logits, name=f"char_lm_{cell}")
    compile_model(
        model,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        optimizer=optimizer,
        learning_rate=learning_rate,
        clipnorm=clipnorm,
        clipvalue=clipvalue,
        global_clipnorm=global_clipnorm,
    )
    return model
