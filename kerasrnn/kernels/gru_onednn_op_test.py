"""The oneDNN GRU and SimpleRNN op against `keras.layers.GRU` / `SimpleRNN`: outputs, gradients, errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasrnn.kernels import gru_onednn_op
from kerasrnn.kernels.lstm_onednn_op import THREADS_ENV

OPS = gru_onednn_op.load_onednn_rnn_ops()
needs_op = pytest.mark.skipif(
    OPS is None, reason=f"the oneDNN RNN op could not be built or loaded: {gru_onednn_op.onednn_rnn_unavailable_reason()}")
RNG = np.random.default_rng(0)
CELLS = ["gru", "tanh", "relu"]


def keras_layer_and_inputs(cell, batch, time, features, units, use_bias=True):
    x = tf.constant(RNG.normal(size=(batch, time, features)).astype("float32"))
    h0 = tf.constant(RNG.normal(size=(batch, units)).astype("float32"))
    options = dict(return_sequences=True, return_state=True, use_bias=use_bias, bias_initializer="random_normal")
    if cell == "gru":
        layer = keras.layers.GRU(units, **options)
    else:
        layer = keras.layers.SimpleRNN(units, activation=cell, **options)
    layer(x, initial_state=[h0])
    return layer, x, h0


def run_op(cell, x, h0, layer_cell):
    weights = (layer_cell.kernel, layer_cell.recurrent_kernel, layer_cell.bias)
    if cell == "gru":
        return gru_onednn_op.onednn_gru(x, h0, *weights)
    return gru_onednn_op.onednn_simple_rnn(x, h0, *weights, activation=cell)


# The op picks its oneDNN threads per call (onednn_common.h): these sizes run
# on the calling thread; "2" forces a team, whose workers must compute the same.
THREADS = [None, "2"]


@needs_op
@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("sizes, use_bias", [((3, 7, 5, 4), True), ((1, 1, 3, 2), False), ((16, 40, 64, 128), True)])
def test_outputs_and_gradients_equal_keras(cell, sizes, use_bias, threads, monkeypatch):
    if threads:
        monkeypatch.setenv(THREADS_ENV, threads)
    layer, x, h0 = keras_layer_and_inputs(cell, *sizes, use_bias=use_bias)
    weights = [x, h0] + layer.trainable_weights
    # Every output takes part in the loss, each weighted differently.
    scale = tf.constant(RNG.normal(size=(sizes[0], sizes[1], sizes[3])).astype("float32"))
    results = []
    for run in (lambda: layer(x, initial_state=[h0]), lambda: run_op(cell, x, h0, layer.cell)):
        with tf.GradientTape() as tape:
            tape.watch([x, h0])
            h, h_last = run()
            loss = tf.reduce_sum(h * scale) + 1.5 * tf.reduce_sum(h_last)
        results.append(([h, h_last], tape.gradient(loss, weights)))
    (expected_outputs, expected_gradients), (outputs, gradients) = results
    for expected, got in zip(expected_outputs, outputs, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-5)
    for weight, expected, got in zip(weights, expected_gradients, gradients, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-5, err_msg=getattr(weight, "path", "input"))


@needs_op
@pytest.mark.parametrize("cell", CELLS)
def test_an_empty_batch_gives_empty_outputs(cell):
    layer, x, h0 = keras_layer_and_inputs(cell, 2, 3, 4, 5)
    h, h_last = run_op(cell, x[:0], h0[:0], layer.cell)
    assert h.shape == (0, 3, 5) and h_last.shape == (0, 5)


@needs_op
@pytest.mark.parametrize("argument, shape, message", [
    ("kernel", (3, 15), "`kernel` must have shape (features, gates * units) = (4, 15)"),
    ("recurrent_kernel", (5, 12), "`recurrent_kernel` must have shape (units, gates * units) = (5, 15)"),
    ("bias", (16,), "`bias` must have shape (bias_gates * units,) = (20)"),
    ("h0", (2, 4), "`h0` must have shape (batch, units) = (2, 5)"),
    ("inputs", (2, 3), "`inputs` must have rank 3 (batch, time, features)"),
])
def test_mismatched_shapes_name_the_argument(argument, shape, message):
    layer, x, h0 = keras_layer_and_inputs("gru", 2, 3, 4, 5)
    cell = layer.cell
    arguments = {"inputs": x, "h0": h0, "kernel": cell.kernel, "recurrent_kernel": cell.recurrent_kernel,
                 "bias": gru_onednn_op.gru_bias(cell.bias, 5)}
    arguments[argument] = tf.zeros(shape)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("*", r"\*")):
        OPS.kerasrnn_onednn_rnn_forward(**arguments, cell="gru")


@needs_op
def test_a_wrong_workspace_is_refused():
    layer, x, h0 = keras_layer_and_inputs("tanh", 2, 3, 4, 5)
    inputs = [x, h0, layer.cell.kernel, layer.cell.recurrent_kernel, layer.cell.bias]
    h, h_last, workspace = OPS.kerasrnn_onednn_rnn_forward(*inputs, cell="rnn_tanh")
    with pytest.raises(tf.errors.InvalidArgumentError, match="`workspace` must be the forward op's workspace"):
        OPS.kerasrnn_onednn_rnn_backward(*inputs, h, h_last, workspace[:-1], h, h_last, cell="rnn_tanh")


def test_another_activation_is_refused():
    with pytest.raises(ValueError, match=r"`activation` must be one of \['relu', 'tanh'\]. Received: 'sigmoid'"):
        gru_onednn_op.onednn_simple_rnn(*[tf.zeros((1, 1))] * 5, activation="sigmoid")


def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("KERASRNN_FUSED_KERNELS", "0")
    assert gru_onednn_op.load_onednn_rnn_ops() is None
    assert gru_onednn_op.onednn_rnn_unavailable_reason() == "switched off by KERASRNN_FUSED_KERNELS=0"
    with pytest.raises(RuntimeError, match="the oneDNN GRU op is unavailable: switched off by KERASRNN_FUSED_KERNELS=0"):
        gru_onednn_op.onednn_gru(*[tf.zeros((1, 1))] * 5)
