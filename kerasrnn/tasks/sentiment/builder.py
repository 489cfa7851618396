"""Many-to-one recurrent classifier: a review in, class probabilities out."""

import keras

from kerasrnn.tasks.recurrent_body import compile_model, embedded_recurrent_body
from kerasrnn.layers.masked_max_pooling import MaskedGlobalMaxPooling1D
from kerasrnn.layers.word_dropout import WordDropout
from kerasrnn.validation import check_choice, check_positive_int, check_rate

# Both pooling layers honour the padding mask (Keras' own max pooling does not).
POOLING = {"last": None, "mean": keras.layers.GlobalAveragePooling1D, "max": MaskedGlobalMaxPooling1D}


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
    """Build and compile a sentiment classifier over integer token ids.

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
    num_classes = check_positive_int("num_classes", num_classes)
    if num_classes < 2:
        raise ValueError(f"`num_classes` must be at least 2. Received: num_classes={num_classes}")
    check_choice("pooling", pooling, tuple(POOLING))
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
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
        cell=cell,
        units=units,
        num_layers=num_layers,
        recurrent_dropout=recurrent_dropout,
        kernel_initializer=kernel_initializer,
        recurrent_initializer=recurrent_initializer,
        return_sequences=pooling != "last",
    )
    if pooling != "last":
        x = POOLING[pooling](name=f"{pooling}_pooling")(x)
    probabilities = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    model = keras.Model(token_ids, probabilities, name=f"sentiment_{cell}")
    compile_model(
        model,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        optimizer=optimizer,
        learning_rate=learning_rate,
        clipnorm=clipnorm,
        clipvalue=clipvalue,
        global_clipnorm=global_clipnorm,
    )
    return model
