"""The oneDNN LSTM op against `keras.layers.LSTM`: outputs, gradients, errors, and finding oneDNN."""

import importlib.metadata

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasrnn.kernels import lstm_onednn_op

OPS = lstm_onednn_op.load_onednn_lstm_ops()
needs_op = pytest.mark.skipif(
    OPS is None, reason=f"the oneDNN LSTM op could not be built or loaded: {lstm_onednn_op.onednn_unavailable_reason()}")
RNG = np.random.default_rng(0)


def keras_lstm_and_inputs(batch, time, features, units):
    x = tf.constant(RNG.normal(size=(batch, time, features)).astype("float32"))
    h0, c0 = (tf.constant(RNG.normal(size=(batch, units)).astype("float32")) for _ in range(2))
    layer = keras.layers.LSTM(units, return_sequences=True, return_state=True, bias_initializer="random_normal")
    layer(x, initial_state=[h0, c0])
    return layer, x, h0, c0


@needs_op
@pytest.mark.parametrize("threads", [None, "2"])  # the op's own choice (one thread here), and a team of two
@pytest.mark.parametrize("sizes", [(3, 7, 5, 4), (1, 1, 3, 2), (16, 40, 64, 128)])
def test_outputs_and_gradients_equal_keras(sizes, threads, monkeypatch):
    if threads:
        monkeypatch.setenv(lstm_onednn_op.THREADS_ENV, threads)
    layer, x, h0, c0 = keras_lstm_and_inputs(*sizes)
    cell = layer.cell
    weights = [x, h0, c0, cell.kernel, cell.recurrent_kernel, cell.bias]
    # Every output takes part in the loss, each weighted differently.
    scale = tf.constant(RNG.normal(size=(sizes[0], sizes[1], sizes[3])).astype("float32"))
    results = []
    for run in (lambda: layer(x, initial_state=[h0, c0]),
                lambda: lstm_onednn_op.onednn_lstm(x, h0, c0, cell.kernel, cell.recurrent_kernel, cell.bias)):
        with tf.GradientTape() as tape:
            tape.watch([x, h0, c0])
            h, h_last, c_last = run()
            loss = tf.reduce_sum(h * scale) + 1.5 * tf.reduce_sum(h_last) + 0.7 * tf.reduce_sum(c_last)
        results.append(([h, h_last, c_last], tape.gradient(loss, weights)))
    (expected_outputs, expected_gradients), (outputs, gradients) = results
    for expected, got in zip(expected_outputs, outputs, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-5)
    for name, expected, got in zip(["inputs", "h0", "c0", "kernel", "recurrent_kernel", "bias"],
                                   expected_gradients, gradients, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-5, err_msg=name)


@needs_op
def test_an_empty_batch_gives_empty_outputs():
    layer, x, h0, c0 = keras_lstm_and_inputs(2, 3, 4, 5)
    cell = layer.cell
    h, h_last, c_last = lstm_onednn_op.onednn_lstm(x[:0], h0[:0], c0[:0], cell.kernel, cell.recurrent_kernel, cell.bias)
    assert h.shape == (0, 3, 5) and h_last.shape == (0, 5) and c_last.shape == (0, 5)


@needs_op
@pytest.mark.parametrize("argument, shape, message", [
    ("kernel", (3, 20), "`kernel` must have shape (features, 4 * units) = (4, 20)"),
    ("recurrent_kernel", (5, 16), "`recurrent_kernel` must have shape (units, 4 * units) = (5, 20)"),
    ("bias", (16,), "`bias` must have shape (4 * units,) = (20)"),
    ("h0", (2, 4), "`h0` must have shape (batch, units) = (2, 5)"),
    ("inputs", (2, 3), "`inputs` must have rank 3 (batch, time, features)"),
])
def test_mismatched_shapes_name_the_argument(argument, shape, message):
    layer, x, h0, c0 = keras_lstm_and_inputs(2, 3, 4, 5)
    cell = layer.cell
    arguments = {"inputs": x, "h0": h0, "c0": c0, "kernel": cell.kernel,
                 "recurrent_kernel": cell.recurrent_kernel, "bias": cell.bias}
    arguments[argument] = tf.zeros(shape)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("*", r"\*")):
        lstm_onednn_op.onednn_lstm(**arguments)


@needs_op
def test_a_wrong_workspace_is_refused():
    layer, x, h0, c0 = keras_lstm_and_inputs(2, 3, 4, 5)
    cell = layer.cell
    inputs = [x, h0, c0, cell.kernel, cell.recurrent_kernel, cell.bias]
    h, h_last, c_last, workspace = OPS.kerasrnn_onednn_lstm_forward(*inputs)
    with pytest.raises(tf.errors.InvalidArgumentError, match="`workspace` must be the forward op's workspace"):
        OPS.kerasrnn_onednn_lstm_backward(*inputs, h, h_last, c_last, workspace[:-1], h, h_last, c_last)


def test_missing_onednn_says_what_to_install(monkeypatch):
    monkeypatch.delenv("DNNLROOT", raising=False)

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(RuntimeError, match="pip install onednn-devel-cpu-gomp onednn-cpu-gomp"):
        lstm_onednn_op.onednn_flags()


def test_a_root_without_headers_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("DNNLROOT", str(tmp_path))
    with pytest.raises(RuntimeError, match=f"DNNLROOT={tmp_path} has no include/oneapi/dnnl/dnnl.hpp"):
        lstm_onednn_op.onednn_flags()


def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("KERASRNN_ONEDNN", "off")
    assert lstm_onednn_op.load_onednn_lstm_ops() is None
    assert lstm_onednn_op.onednn_unavailable_reason() == "switched off by KERASRNN_ONEDNN=off"
    with pytest.raises(RuntimeError, match="the oneDNN LSTM op is unavailable: switched off by KERASRNN_ONEDNN=off"):
        lstm_onednn_op.onednn_lstm(*[tf.zeros((1, 1))] * 6)
