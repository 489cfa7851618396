"""Run a kerasrnn model step by step, so every hidden state is a tensor of its own.

Keras runs a recurrent layer as one fused loop (`backend.rnn`), which hides
the hidden state h_t of each step inside the loop. To measure the *total*
derivative of the loss with respect to h_t (through the output at t and
through every later step), the cell must be called once per step under a
`tf.GradientTape`, so that each h_t is an intermediate tensor the tape can
differentiate with respect to. This module does that for chain models
(embedding → recurrent layers → dropout → dense), the shape every kerasrnn
builder returns.
"""

import dataclasses
import inspect

import keras
import tensorflow as tf

SUPPORTED_CELLS = (keras.layers.SimpleRNNCell, keras.layers.LSTMCell, keras.layers.GRUCell)


def is_recurrent(layer):
    """Whether `layer` is a Keras recurrent layer or a `Bidirectional` wrapper of one.

    Example:

    >>> is_recurrent(keras.layers.GRU(4)), is_recurrent(keras.layers.Dense(4))
    (True, False)
    """
    return isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))


def recurrent_layers(model):
    """The top-level recurrent layers of `model`, in order; a clear error if none.

    Args:
        model: a `keras.Model`, typically one built by a kerasrnn builder.

    Returns:
        A list of `SimpleRNN`/`LSTM`/`GRU` layers and `Bidirectional` wrappers.

    Example:

    >>> from kerasrnn.tasks import build_char_lm
    >>> [layer.name for layer in recurrent_layers(build_char_lm(40, units=8, num_layers=2))]
    ['lstm_1', 'lstm_2']
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model. Received: model={type(model).__name__}")
    layers = [layer for layer in model.layers if is_recurrent(layer)]
    if not layers:
        nested = [layer.name for layer in model.layers if isinstance(layer, keras.Model)]
        hint = (
            f" It nests the model(s) {nested}: pass the integer-id network "
            "(a task model's `model.network`)."
            if nested
            else ""
        )
        raise ValueError(
            f"`model` {model.name!r} has no recurrent layer (SimpleRNN, LSTM, GRU or "
            f"Bidirectional) among its top-level layers.{hint}"
        )
    return layers


def directions(layer):
    """The `(direction_name, rnn_layer)` pairs of a recurrent layer.

    Example:

    >>> [name for name, _ in directions(keras.layers.Bidirectional(keras.layers.LSTM(2)))]
    ['forward', 'backward']
    """
    if isinstance(layer, keras.layers.Bidirectional):
        return [("forward", layer.forward_layer), ("backward", layer.backward_layer)]
    return [("forward" if not layer.go_backwards else "backward", layer)]


def check_supported(layer):
    """Raise a clear error for a recurrent layer this module cannot unroll.

    Args:
        layer: a recurrent layer or `Bidirectional` wrapper.

    Example:

    >>> check_supported(keras.layers.LSTM(4, return_state=True, name="lstm"))
    Traceback (most recent call last):
    ...
    ValueError: Layer 'lstm' has `return_state=True`, which is not supported.
    """
    for _, rnn in directions(layer):
        if not isinstance(rnn.cell, SUPPORTED_CELLS):
            raise ValueError(
                f"Layer {layer.name!r} has a {type(rnn.cell).__name__}; gradient diagnostics "
                "support SimpleRNN, LSTM and GRU cells (plain or Bidirectional)."
            )
        if rnn.return_state:
            raise ValueError(f"Layer {layer.name!r} has `return_state=True`, which is not supported.")


@dataclasses.dataclass
class UnrolledDirection:
    """One direction of one recurrent layer, run step by step.

    Attributes:
        layer: the name of the top-level layer (e.g. `"bidirectional_lstm_1"`).
        direction: `"forward"` or `"backward"`.
        cell: the cell class name (`"LSTMCell"`, ...).
        inputs: the `(batch, time, features)` input of the layer (for re-running it).
        hidden: the hidden states h_t, one `(batch, units)` tensor per step, in
            the order the direction reads the sequence (step 0 is the first read).
        positions: the input position of each step (reversed for a backward direction).
        mask: the `(batch, time)` bool mask on the inputs, or None.

    Example:

    >>> import numpy as np
    >>> from kerasrnn.tasks import build_char_lm
    >>> _, _, record = unrolled_forward(build_char_lm(9, units=4, num_layers=1), np.ones((1, 3), "int32"))
    >>> record[0].layer, record[0].direction, record[0].positions
    ('lstm_1', 'forward', [0, 1, 2])
    """

    layer: str
    direction: str
    cell: str
    inputs: tf.Tensor
    mask: object
    hidden: list
    positions: list


def run_direction(rnn, inputs, mask, initial_state=None):
    """Call `rnn`'s cell once per step, as `keras.backend.rnn` would, keeping every h_t.

    Masked steps carry the previous state, as Keras does. The output of all
    three supported cells equals the new hidden state, so the layer's output
    is derived from h_t itself: a derivative through h_t then includes the
    path through the layer's output as well as the path through later steps.

    Args:
        rnn: a `SimpleRNN`, `LSTM` or `GRU` layer.
        inputs: `(batch, time, features)` float tensor.
        mask: `(batch, time)` bool tensor or None.
        initial_state: list of state tensors; default zeros (or the carried
            state of a stateful layer).

    Returns:
        `(outputs, hidden, positions)`: the per-step outputs (processing order),
        the per-step hidden states and their input positions.

    Example:

    >>> rnn = keras.layers.GRU(3, go_backwards=True)
    >>> _ = rnn(tf.zeros((1, 4, 2)))
    >>> outputs, hidden, positions = run_direction(rnn, tf.ones((1, 4, 2)), None)
    >>> positions, hidden[-1].shape
    ([3, 2, 1, 0], TensorShape([1, 3]))
    """
    cell = rnn.cell
    batch = tf.shape(inputs)[0]
    time = inputs.shape[1]
    if initial_state is None:
        if rnn.stateful and rnn.states is not None:
            initial_state = [tf.convert_to_tensor(state) for state in tf.nest.flatten(rnn.states)]
        else:
            initial_state = tf.nest.flatten(cell.get_initial_state(batch_size=batch))
    states = [tf.convert_to_tensor(state, inputs.dtype) for state in initial_state]
    positions = list(range(time - 1, -1, -1)) if rnn.go_backwards else list(range(time))
    zero_masked_output = bool(getattr(rnn, "zero_output_for_mask", False))
    outputs, hidden = [], []
    for position in positions:
        _, new_states = cell(inputs[:, position], states, training=False)
        new_states = tf.nest.flatten(new_states)
        if mask is not None:
            keep = mask[:, position][:, None]
            new_states = [tf.where(keep, new, old) for new, old in zip(new_states, states)]
        h = new_states[0]
        output = h
        if mask is not None and zero_masked_output:
            output = tf.where(mask[:, position][:, None], h, tf.zeros_like(h))
        states = new_states
        hidden.append(h)
        outputs.append(output)
    return outputs, hidden, positions


def _run_recurrent(layer, inputs, mask, record):
    """Run one recurrent layer (both directions if Bidirectional); return its output."""
    results = []
    for direction, rnn in directions(layer):
        outputs, hidden, positions = run_direction(rnn, inputs, mask)
        record.append(
            UnrolledDirection(
                layer=layer.name,
                direction=direction,
                cell=type(rnn.cell).__name__,
                inputs=inputs,
                mask=mask,
                hidden=hidden,
                positions=positions,
            )
        )
        sequence = tf.stack(outputs, axis=1)
        last = outputs[-1]
        results.append((rnn, sequence, last))
    if not isinstance(layer, keras.layers.Bidirectional):
        rnn, sequence, last = results[0]
        return sequence if rnn.return_sequences else last
    (forward, y, y_last), (_, y_rev, y_rev_last) = results
    if forward.return_sequences:
        y, y_rev = y, tf.reverse(y_rev, axis=[1])
    else:
        y, y_rev = y_last, y_rev_last
    merge = layer.merge_mode
    if merge == "concat":
        return tf.concat([y, y_rev], axis=-1)
    if merge == "sum":
        return y + y_rev
    if merge == "ave":
        return (y + y_rev) / 2
    if merge == "mul":
        return y * y_rev
    raise ValueError(f"Layer {layer.name!r}: merge_mode={merge!r} is not supported.")


def _accepts_mask(layer):
    return "mask" in inspect.signature(layer.call).parameters


def unrolled_forward(model, inputs):
    """Run a chain model on `inputs` with its recurrent layers unrolled step by step.

    Non-recurrent layers are called as usual (inference mode: no dropout);
    the Keras mask (from `Embedding(mask_zero=True)`) is carried along by hand.

    Args:
        model: a chain `keras.Model` (one input, each layer feeding the next).
        inputs: a batch the model accepts, `(batch, time)` ids or `(batch, time, features)`.

    Returns:
        `(predictions, output_mask, record)`: the model output, the mask on it
        (None unless the output is a masked sequence), and one
        `UnrolledDirection` per recurrent layer and direction.

    Example:

    >>> import numpy as np
    >>> from kerasrnn.tasks import build_char_lm
    >>> model = build_char_lm(40, cell="gru", units=8, num_layers=1)
    >>> predictions, _, record = unrolled_forward(model, np.ones((2, 5), "int32"))
    >>> predictions.shape, len(record[0].hidden)
    (TensorShape([2, 5, 40]), 5)
    """
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"`model` {model.name!r} must have one input and one output to be unrolled; "
            f"it has {len(model.inputs)} inputs and {len(model.outputs)} outputs."
        )
    x = tf.convert_to_tensor(inputs)
    mask = None
    record = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if is_recurrent(layer):
            check_supported(layer)
            returns_sequences = directions(layer)[0][1].return_sequences
            x = _run_recurrent(layer, x, mask, record)
            mask = mask if returns_sequences else None
            continue
        kwargs = {"mask": mask} if mask is not None and _accepts_mask(layer) else {}
        y = layer(x, training=False, **kwargs) if "training" in inspect.signature(
            layer.call
        ).parameters else layer(x, **kwargs)
        mask = layer.compute_mask(x, mask)
        x = y
    if mask is not None:
        mask = tf.convert_to_tensor(mask)
    return x, mask, record
