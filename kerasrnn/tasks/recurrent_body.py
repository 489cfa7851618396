"""What the three task builders share: the embedded recurrent body and compiling."""

import keras

from kerasrnn.layers import recurrent_stack
from kerasrnn.optimizers import build_optimizer
from kerasrnn.validation import check_positive_int, check_rate

# The defaults of the recurrent options every builder takes. Builders list
# them explicitly in their signatures; this dict is what tests and the CLI
# read to know which keyword arguments belong to the recurrent body.
RECURRENT_OPTIONS = (
    "cell",
    "units",
    "num_layers",
    "dropout",
    "recurrent_dropout",
    "kernel_initializer",
    "recurrent_initializer",
)
OPTIMIZER_OPTIONS = ("optimizer", "learning_rate", "clipnorm", "clipvalue", "global_clipnorm")


def embedded_recurrent_body(
    token_ids, vocab_size, embedding_dim, mask_padding, dropout, bidirectional, extra_features=None, **recurrent
):
    """Embed integer ids and run them through a recurrent stack.

    Args:
        token_ids: symbolic int tensor `(batch, time)`.
        vocab_size: number of ids, padding (0) and out-of-vocabulary included.
        embedding_dim: size of each embedding vector.
        mask_padding: treat id 0 as padding and mask it through the stack.
        dropout: dropout rate inside the stack and before the output layer.
        bidirectional: wrap the recurrent layers in `Bidirectional`.
        extra_features: a `(batch, time, features)` tensor concatenated to the
            embeddings (e.g. character-level word vectors).
        **recurrent: the remaining arguments of `recurrent_stack`.

    Returns:
        The last recurrent layer's output after dropout.

    Example:

    >>> import keras
    >>> ids = keras.Input(shape=(None,), dtype="int32")
    >>> body = embedded_recurrent_body(ids, 50, 8, True, 0.0, False, cell="gru", units=4)
    >>> tuple(body.shape)
    (None, None, 4)
    """
    check_positive_int("vocab_size", vocab_size)
    check_positive_int("embedding_dim", embedding_dim)
    check_rate("dropout", dropout)
    x = keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=mask_padding, name="embedding")(
        token_ids
    )
    if extra_features is not None:
        # Concatenate keeps the embedding's padding mask for the recurrent stack.
        x = keras.layers.Concatenate(name="word_features")([x, extra_features])
    x = recurrent_stack(x, dropout=dropout, bidirectional=bidirectional, **recurrent)
    if dropout:
        x = keras.layers.Dropout(dropout, name="output_dropout")(x)
    return x


def compile_model(model, loss, metrics, optimizer, **optimizer_options):
    """Compile `model` with an optimizer built by name and its clipping options.

    Example:

    >>> import keras
    >>> inputs = keras.Input(shape=(3,))
    >>> model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    >>> compile_model(model, "mse", [], "sgd", learning_rate=0.1, clipvalue=0.5)
    >>> float(model.optimizer.clipvalue)
    0.5
    """
    model.compile(
        optimizer=build_optimizer(optimizer, **optimizer_options), loss=loss, metrics=metrics
    )
