"""A stack of recurrent layers: the piece every kerasrnn model shares."""

import keras

from kerasrnn.layers.fast_rnn import FastGRU, FastLSTM, FastSimpleRNN, with_fast_rnn
from kerasrnn.validation import check_choice, check_positive_int, check_rate

# The layer each cell trains with. kerasrnn's are Keras' own (same weights
# and config, subclasses) that run fused C++ ops on a CPU when they can:
# `FastLSTM` its Eigen op or oneDNN's LSTM, `FastGRU` oneDNN's GRU,
# `FastSimpleRNN` oneDNN's vanilla RNN. A fused layer is the default only
# where it trained faster than Keras' loop on what users run. `FastSimpleRNN`
# measured 0.91x / 0.79x / 0.94x of Keras' loop (char LM / sentiment /
# tagger) while the oneDNN ops ran every layer on an OpenMP team; since
# small layers run on the calling thread (kernels/onednn_common.h, issue
# #32) it trained at 1.30x / 1.17x / 1.15x, and FastGRU at 1.33x / 1.61x /
# 1.41x (`python -m benchmarks.run --only training`, quick, 2026-12-06
# 04:33-04:47 UTC, load 3.5-4 beside other work). Exports switch the ops off.
CELLS = {
    "simple_rnn": FastSimpleRNN,
    "lstm": FastLSTM,
    "gru": FastGRU,
}

# Keras' own layer of each cell, the parent of kerasrnn's (same config and weights).
KERAS_LAYERS = {"simple_rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


def with_builder_layers(model):
    """`model` with Keras' own recurrent layers as the fused layers the builders use now (`CELLS`), where any.

    A model saved before the builders used a fused layer (the zoo's GRU and
    SimpleRNN models name `keras.layers.GRU` / `SimpleRNN`) gets the same
    layers as a model built today: same weights and outputs, the fused op
    on a CPU. A cell whose builder layer is Keras' own stays as it is.

    Args:
        model: a functional `keras.Model` or kerasrnn task model.

    Returns:
        `model` itself when no layer changes; else a copy (`with_fast_rnn`:
        compiled from the same compile config, with a fresh optimizer).

    Example:

    >>> inputs = keras.Input((None, 3))
    >>> model = keras.Model(inputs, keras.layers.GRU(4, name="gru")(inputs))
    >>> type(with_builder_layers(model).get_layer("gru")) is CELLS["gru"]
    True
    """
    from kerasrnn.keras_adapter import nested_layers

    fused = [cell for cell, layer_class in CELLS.items() if layer_class is not KERAS_LAYERS[cell]]
    layers = nested_layers(model)
    if not any(type(layer) is KERAS_LAYERS[cell] for layer in layers for cell in fused):
        return model
    return with_fast_rnn(model, cells=fused)


# The names users most often mean; any other Keras initializer name or object
# is accepted too, so this list only feeds error messages.
COMMON_INITIALIZERS = (
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "orthogonal",
    "lecun_normal",
    "random_normal",
    "zeros",
)


def resolve_initializer(name, value):
    """Turn an initializer name, config dict or object into a Keras initializer.

    Args:
        name: the argument's name, for the error message.
        value: a Keras initializer name (`"he_normal"`), a serialized
            initializer dict, or an initializer object.

    Example:

    >>> resolve_initializer("kernel_initializer", "he_normal").__class__.__name__
    'HeNormal'
    """
    try:
        initializer = keras.initializers.get(value)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"`{name}` must be a Keras initializer name, config or object, such as "
            f"{', '.join(COMMON_INITIALIZERS)}. Received: {name}={value!r}"
        ) from error
    if initializer is None:
        raise ValueError(f"`{name}` must not be None.")
    return initializer


def check_recurrent_stack_options(
    cell, units, num_layers, dropout, recurrent_dropout, kernel_initializer, recurrent_initializer
):
    """Refuse a bad `recurrent_stack` option in one line, without building a layer.

    Args:
        cell: `"simple_rnn"`, `"lstm"` or `"gru"`.
        units: hidden units per layer (a positive integer).
        num_layers: how many layers (a positive integer).
        dropout: dropout rate on each layer's inputs, in [0, 1).
        recurrent_dropout: dropout rate on the recurrent state, in [0, 1).
        kernel_initializer: a Keras initializer name, config or object.
        recurrent_initializer: a Keras initializer name, config or object.

    Raises:
        ValueError: naming the first option that is wrong.

    Example:

    >>> check_recurrent_stack_options("gru", 4, 1, 0.0, 0.0, "he_normal", "orthogonal")
    >>> check_recurrent_stack_options("gru", 0, 1, 0.0, 0.0, "he_normal", "orthogonal")
    Traceback (most recent call last):
    ...
    ValueError: `units` must be a positive integer. Received: units=0
    """
    check_choice("cell", cell, tuple(CELLS))
    check_positive_int("units", units)
    check_positive_int("num_layers", num_layers)
    check_rate("dropout", dropout)
    check_rate("recurrent_dropout", recurrent_dropout)
    resolve_initializer("kernel_initializer", kernel_initializer)
    resolve_initializer("recurrent_initializer", recurrent_initializer)


def recurrent_stack(
    inputs,
    cell="lstm",
    units=128,
    num_layers=1,
    bidirectional=False,
    dropout=0.0,
    recurrent_dropout=0.0,
    kernel_initializer="glorot_uniform",
    recurrent_initializer="orthogonal",
    return_sequences=True,
    stateful=False,
    seed=None,
):
    """Apply `num_layers` recurrent layers of one cell type to `inputs`.

    The layers are kerasrnn's `FastSimpleRNN`, `FastLSTM` and `FastGRU`
    (Keras' `SimpleRNN`, `LSTM` and `GRU` with the same weights that run
    fused ops on a CPU: `CELLS`), wrapped in `Bidirectional` when asked; a
    SavedModel export traces only standard TensorFlow ops. A Keras mask on `inputs` (from
    `Embedding(mask_zero=True)`) flows through every layer, so padded steps
    change nothing.

    Args:
        inputs: a symbolic tensor of shape `(batch, time, features)`.
        cell: `"simple_rnn"`, `"lstm"` or `"gru"`.
        units: hidden units per layer (and per direction).
        num_layers: how many recurrent layers to stack.
        bidirectional: wrap each layer in `keras.layers.Bidirectional`.
        dropout: dropout rate on each layer's inputs.
        recurrent_dropout: dropout rate on each layer's recurrent state.
        kernel_initializer: initializer of the input kernels.
        recurrent_initializer: initializer of the recurrent kernels.
        return_sequences: whether the last layer returns every step or only the last.
        stateful: carry the state across batches (truncated BPTT over streams).
        seed: seed for the dropout masks.

    Returns:
        The output tensor of the last layer.

    Example:

    >>> import keras
    >>> tokens = keras.Input(shape=(None, 8))
    >>> outputs = recurrent_stack(tokens, cell="gru", units=4, num_layers=2)
    >>> tuple(outputs.shape)
    (None, None, 4)
    """
    check_recurrent_stack_options(
        cell, units, num_layers, dropout, recurrent_dropout, kernel_initializer, recurrent_initializer
    )
    layer_class, units, num_layers = CELLS[cell], int(units), int(num_layers)
    x = inputs
    for index in range(1, num_layers + 1):
        layer = layer_class(
            units,
            return_sequences=return_sequences or index < num_layers,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            # A fresh initializer per layer: sharing one object would give
            # every layer the same starting weights when it is seeded.
            kernel_initializer=resolve_initializer("kernel_initializer", kernel_initializer),
            recurrent_initializer=resolve_initializer(
                "recurrent_initializer", recurrent_initializer
            ),
            stateful=stateful,
            seed=seed,
            name=f"{cell}_{index}",
        )
        if bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bidirectional_{cell}_{index}")
        x = layer(x)
    return x
