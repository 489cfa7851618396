"""How much gradient reaches each time step: ‖∂L/∂h_t‖ and ‖∂h_T/∂h_t‖ for t = 0..T."""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from kerasrnn.diagnostics.unroll import recurrent_layers, run_direction, unrolled_forward
from kerasrnn.validation import check_positive_int

# The unrolled pass must reproduce the model's own forward pass; float32 over
# a few hundred steps agrees to ~1e-6, so anything past this means the model
# is not the chain `unrolled_forward` assumes.
OUTPUT_TOLERANCE = 1e-3


@dataclasses.dataclass
class DirectionFlow:
    """Gradient flow through one recurrent layer in one direction.

    Attributes:
        layer: the top-level layer name, e.g. `"lstm_1"` or `"bidirectional_gru_1"`.
        direction: `"forward"` or `"backward"`.
        cell: `"SimpleRNNCell"`, `"LSTMCell"` or `"GRUCell"`.
        loss_gradient_norm: `(T,)` array, ‖∂L/∂h_t‖ (L2 norm over the whole
            `(batch, units)` gradient), the total derivative through the
            output at t and every later step. Index = processing step: step 0
            is the first step the direction reads (the last position for a
            backward direction); `positions` maps steps to input positions.
        jacobian_norm: `(T,)` array, the largest singular value of
            ∂h_{output_step}/∂h_t averaged over the examples used; NaN after
            `output_step` (h_t does not influence earlier states).
        output_step: the processing step whose state the Jacobian differentiates.
        positions: `(T,)` int array, the input position of each processing step.
    """

    layer: str
    direction: str
    cell: str
    loss_gradient_norm: np.ndarray
    jacobian_norm: np.ndarray
    output_step: int
    positions: np.ndarray

    def as_dict(self):
        """A JSON-ready dict (NaN written as None)."""
        return {
            "layer": self.layer,
            "direction": self.direction,
            "cell": self.cell,
            "output_step": self.output_step,
            "loss_gradient_norm": _json_floats(self.loss_gradient_norm),
            "jacobian_norm": _json_floats(self.jacobian_norm),
            "positions": self.positions.tolist(),
        }


@dataclasses.dataclass
class GradientFlow:
    """The result of `gradient_flow`: the loss and one `DirectionFlow` per layer and direction.

    Attributes:
        loss: the model's compiled loss on the batch (inference mode).
        directions: the per-layer, per-direction curves, bottom layer first.
        max_output_error: largest |difference| between the unrolled pass and
            `model(inputs)`, a check that the curves describe this very model.
    """

    loss: float
    directions: list
    max_output_error: float

    def get(self, layer, direction="forward"):
        """The `DirectionFlow` of `layer` (a name) in `direction`.

        Example:

        >>> flow.get("lstm_1").loss_gradient_norm.shape  # doctest: +SKIP
        (200,)
        """
        for item in self.directions:
            if item.layer == layer and item.direction == direction:
                return item
        names = [(item.layer, item.direction) for item in self.directions]
        raise KeyError(f"No recurrent layer/direction {(layer, direction)!r}; available: {names}")

    def as_dict(self):
        """A JSON-ready dict."""
        return {
            "loss": self.loss,
            "max_output_error": self.max_output_error,
            "directions": [item.as_dict() for item in self.directions],
        }


def _json_floats(values):
    return [float(value) if np.isfinite(value) else None for value in np.asarray(values)]


def check_batch(model, batch):
    """Validate `batch` = `(inputs, targets)` against `model`; return them as arrays.

    Args:
        model: the model the batch is for.
        batch: a tuple `(inputs, targets)` with `inputs` of the rank the model
            takes (`(batch, time)` ids for kerasrnn builders) and at least one step.

    Example:

    >>> from kerasrnn.tasks import build_char_lm
    >>> inputs, targets = check_batch(build_char_lm(5, units=4, num_layers=1),
    ...                               (np.ones((2, 3), "int32"), np.ones((2, 3), "int32")))
    >>> inputs.shape
    (2, 3)
    """
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ValueError(
            "`batch` must be a tuple (inputs, targets), e.g. one element of the training "
            f"dataset. Received: {type(batch).__name__}"
            + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
        )
    inputs, targets = (np.asarray(part) for part in batch)
    expected = model.inputs[0].shape
    if inputs.ndim != len(expected):
        raise ValueError(
            f"`batch` inputs must have shape {tuple(expected)} (batch, time{', features' if len(expected) > 2 else ''}) "
            f"for model {model.name!r}. Received inputs of shape {inputs.shape}."
        )
    for axis, (want, got) in enumerate(zip(expected, inputs.shape)):
        if want is not None and want != got:
            raise ValueError(
                f"`batch` inputs must have shape {tuple(expected)} for model {model.name!r}; "
                f"axis {axis} is {got}, expected {want}. Received inputs of shape {inputs.shape}."
            )
    if inputs.shape[0] == 0 or inputs.shape[1] == 0:
        raise ValueError(f"`batch` inputs must have at least one example and one step. Received shape {inputs.shape}.")
    if targets.ndim == 0 or targets.shape[0] != inputs.shape[0]:
        raise ValueError(
            f"`batch` targets must have one row per example ({inputs.shape[0]}). "
            f"Received targets of shape {targets.shape}."
        )
    return inputs, targets


def _norm(tensor):
    # In float64: squaring a float32 gradient of 1e-20 would underflow to 0.
    return float(np.linalg.norm(np.asarray(tensor, dtype="float64")))


def _loss(model, targets, predictions, mask):
    """The compiled loss; a masked output weighs valid entries as Keras does (total/valid)."""
    sample_weight = None
    if mask is not None:
        mask = tf.cast(mask, predictions.dtype)
        sample_weight = mask * tf.cast(tf.size(mask), mask.dtype) / tf.maximum(tf.reduce_sum(mask), 1.0)
    return model.compute_loss(y=targets, y_pred=predictions, sample_weight=sample_weight, training=False)


def _jacobian_norms(item, rnn, output_step, examples):
    """Largest singular value of ∂h_out/∂h_t per step, mean over `examples` examples.

    The full Jacobian of a `units`-vector needs `units` backward passes. They
    run as one: the layer's input is repeated `units` times, copy k is seeded
    with unit k of h_out, and one backward pass yields every row at once.
    """
    inputs = tf.stop_gradient(item.inputs[:examples])
    count = int(inputs.shape[0])
    units = rnn.cell.units
    tiled = tf.tile(inputs, [units, 1, 1])  # row k * count + b is example b, seeded by unit k
    mask = None if item.mask is None else tf.tile(item.mask[:examples], [units, 1])
    seed = tf.repeat(tf.eye(units, dtype=tiled.dtype), count, axis=0)
    initial_state = None
    if rnn.stateful and rnn.states is not None:  # start from the carried state, as the main pass did
        initial_state = [tf.tile(tf.convert_to_tensor(s)[:count], [units, 1]) for s in tf.nest.flatten(rnn.states)]
    with tf.GradientTape() as tape:
        _, hidden, _ = run_direction(rnn, tiled, mask, initial_state)
        target = tf.reduce_sum(hidden[output_step] * seed)
    gradients = tape.gradient(
        target, hidden[: output_step + 1], unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    norms = np.full(len(hidden), np.nan)
    for step, gradient in enumerate(gradients):
        jacobian = np.asarray(gradient, dtype="float64").reshape(units, count, units).transpose(1, 0, 2)
        norms[step] = float(np.mean(np.linalg.norm(jacobian, ord=2, axis=(1, 2))))
    return norms


def gradient_flow(model, batch, output_step=None, jacobian_examples=4):
    """Measure how the gradient travels back through time in every recurrent layer.

    The recurrent layers are run one cell step at a time under a
    `tf.GradientTape` (see `kerasrnn.diagnostics.unroll`), in inference mode
    (no dropout), so ∂L/∂h_t is the total derivative through every path from
    h_t to the loss, not just the local one a layer's output sequence exposes.

    Args:
        model: a compiled chain model with SimpleRNN, LSTM or GRU layers (plain,
            stacked or bidirectional), e.g. from a kerasrnn builder.
        batch: `(inputs, targets)`, one batch the model trains on; the time
            axis is the number of steps measured.
        output_step: the processing step whose hidden state ∂h/∂h_t is taken
            of; default the last one. Negative values count from the end.
        jacobian_examples: how many examples of the batch the Jacobian norms
            average over (each costs `units` extra sequences of compute).

    Returns:
        A `GradientFlow`: `.directions[i].loss_gradient_norm` and
        `.jacobian_norm` are `(T,)` NumPy arrays.

    Example:

    >>> from kerasrnn.tasks import build_char_lm
    >>> model = build_char_lm(30, cell="simple_rnn", units=8, num_layers=1)
    >>> ids = np.random.default_rng(0).integers(1, 30, size=(2, 50))
    >>> flow = gradient_flow(model, (ids[:, :-1], ids[:, 1:]))
    >>> flow.get("simple_rnn_1").loss_gradient_norm.shape
    (49,)
    """
    recurrent_layers(model)
    inputs, targets = check_batch(model, batch)
    jacobian_examples = check_positive_int("jacobian_examples", jacobian_examples)
    steps = inputs.shape[1]
    if output_step is None:
        output_step = steps - 1
    if isinstance(output_step, bool) or not isinstance(output_step, (int, np.integer)) or not (
        -steps <= output_step < steps
    ):
        raise ValueError(
            f"`output_step` must be an integer step in [-{steps}, {steps - 1}] (the batch has "
            f"{steps} steps). Received: output_step={output_step!r}"
        )
    output_step = int(output_step) % steps
    with tf.GradientTape() as tape:
        predictions, mask, record = unrolled_forward(model, inputs)
        loss = _loss(model, targets, predictions, mask)
    hidden = [h for item in record for h in item.hidden]
    gradients = tape.gradient(loss, hidden, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    reference = keras.ops.convert_to_numpy(model(inputs, training=False))
    max_error = float(np.max(np.abs(reference - keras.ops.convert_to_numpy(predictions))))
    if not max_error <= OUTPUT_TOLERANCE * max(1.0, float(np.max(np.abs(reference)))):
        raise RuntimeError(
            f"The step-by-step pass differs from model({model.name!r}) by {max_error:.3g}: the "
            "model is not a chain of layers (embedding → recurrent → dense) this tool can unroll."
        )
    rnns = {}
    for layer in recurrent_layers(model):
        if isinstance(layer, keras.layers.Bidirectional):
            rnns[(layer.name, "forward")] = layer.forward_layer
            rnns[(layer.name, "backward")] = layer.backward_layer
        else:
            rnns[(layer.name, "backward" if layer.go_backwards else "forward")] = layer
    results, offset = [], 0
    for item in record:
        count = len(item.hidden)
        norms = np.array([_norm(g) for g in gradients[offset : offset + count]])
        offset += count
        results.append(
            DirectionFlow(
                layer=item.layer,
                direction=item.direction,
                cell=item.cell,
                loss_gradient_norm=norms,
                jacobian_norm=_jacobian_norms(item, rnns[(item.layer, item.direction)], output_step, jacobian_examples),
                output_step=output_step,
                positions=np.asarray(item.positions),
            )
        )
    return GradientFlow(loss=float(loss), directions=results, max_output_error=max_error)


def decay_rate(norms, output_step=None, lags=None):
    """Fitted slope of log‖·‖ per step back in time from `output_step` (nats per step).

    A curve that shrinks by a factor r each step back has slope log r (e.g.
    log 0.5 ≈ -0.693); a positive slope means the gradient grows going back
    (exploding). Zero, NaN and infinite values are left out of the fit.

    Args:
        norms: a `(T,)` array such as `DirectionFlow.jacobian_norm`.
        output_step: the step the lags count from; default the last one.
        lags: optional `(first, last)` lag range to fit over (inclusive).

    Returns:
        The least-squares slope, a float.

    Example:

    >>> round(decay_rate(0.5 ** np.arange(10)[::-1]), 3)
    -0.693
    """
    norms = np.asarray(norms, dtype="float64")
    if norms.ndim != 1 or norms.size < 2:
        raise ValueError(f"`norms` must be a 1-D array of at least 2 values. Received shape {norms.shape}.")
    output_step = norms.size - 1 if output_step is None else int(output_step) % norms.size
    lag = output_step - np.arange(norms.size)
    keep = (lag >= 0) & np.isfinite(norms) & (norms > 0)
    if lags is not None:
        keep &= (lag >= lags[0]) & (lag <= lags[1])
    if keep.sum() < 2:
        raise ValueError("`norms` has fewer than 2 positive finite values in the lag range to fit.")
    return float(np.polyfit(lag[keep], np.log(norms[keep]), 1)[0])
