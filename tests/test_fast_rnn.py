"""FastLSTM, FastGRU and FastSimpleRNN are drop-ins for Keras' layers (FastLSTM's own op tests: kerasrnn/kernels)."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasrnn.kernels
from conftest import SHAKESPEARE
from kerasrnn.diagnostics.unroll import unrolled_forward
from kerasrnn.kernels import (load_onednn_lstm_ops, load_onednn_rnn_ops, onednn_rnn_unavailable_reason,
                              onednn_unavailable_reason)
from kerasrnn.tasks.char_lm.sampler import CharStepper
from kerasrnn.layers.fast_rnn import (FastGRU, FastLSTM, FastSimpleRNN, with_fast_lstm, with_fast_rnn, with_keras_lstm,
                                      with_keras_rnn)
from kerasrnn.tasks import build_char_lm, build_pos_tagger, build_sentiment_classifier

RNG = np.random.default_rng(0)


def pair(cell, **options):
    assert cell == "lstm"
    fast = FastLSTM(5, **options)
    fast.use_fused_kernel = False  # this file tests the Keras-loop path; the op has its own tests
    return keras.layers.LSTM(5, **options), fast


@pytest.mark.parametrize("cell", ["lstm"])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_same_outputs_as_keras_with_a_mask(cell, return_sequences, go_backwards):
    x = RNG.normal(size=(3, 7, 4)).astype("float32")
    mask = np.array([[1] * 7, [1] * 4 + [0] * 3, [1] * 2 + [0] * 5], bool)
    reference, fast = pair(cell, return_sequences=return_sequences, go_backwards=go_backwards)
    reference(x), fast(x)
    fast.set_weights(reference.get_weights())
    np.testing.assert_allclose(fast(x, mask=mask), reference(x, mask=mask), atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm"])
def test_same_gradients_as_keras(cell):
    x = tf.constant(RNG.normal(size=(2, 6, 3)).astype("float32"))
    reference, fast = pair(cell, return_sequences=True)
    reference(x), fast(x)
    fast.set_weights(reference.get_weights())
    grads = []
    for layer in (reference, fast):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(layer(x)))
        grads.append(tape.gradient(loss, layer.trainable_weights))
    for expected, got in zip(*grads):
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_stateful_and_bidirectional_and_dropout():
    x = RNG.normal(size=(2, 4, 3)).astype("float32")
    reference, fast = pair("lstm", stateful=True, return_sequences=True)
    reference(x), fast(x)
    fast.set_weights(reference.get_weights())
    reference.reset_states(), fast.reset_states()
    for _ in range(2):  # the second call continues from the carried state
        np.testing.assert_allclose(fast(x), reference(x), atol=1e-5)
    wrapped = keras.layers.Bidirectional(FastLSTM(4, dropout=0.5, seed=1))
    assert wrapped(x, training=True).shape == (2, 8)
    # recurrent_dropout falls back to the Keras loop, which applies it per step.
    assert FastLSTM(4, recurrent_dropout=0.5)(x, training=True).shape == (2, 4)


def test_config_round_trip_and_safe_mode_load(tmp_path):
    model = with_keras_lstm(build_sentiment_classifier(vocab_size=40, units=4, embedding_dim=4, cell="lstm"))
    fast = with_fast_lstm(model)
    layer = fast.get_layer("bidirectional_lstm_1").forward_layer
    assert type(layer) is FastLSTM
    assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()
    path = os.path.join(tmp_path, "fast.keras")
    fast.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    ids = np.array([[5, 6, 7, 0, 0]])
    np.testing.assert_allclose(loaded.predict(ids, verbose=0), model.predict(ids, verbose=0), atol=1e-5)


def test_char_sampler_and_diagnostics_step_the_same_cells():
    model = build_char_lm(vocab_size=9, units=4, num_layers=2)
    stepper = CharStepper(model)
    logits, _ = stepper.step(tf.constant([1, 2]), stepper.initial_states(2))
    assert tuple(logits.shape) == (2, 9)
    _, _, records = unrolled_forward(model, np.ones((1, 3), "int32"))
    assert records


def test_copy_is_compiled_like_the_original_with_its_own_optimizer():
    model = with_keras_lstm(build_pos_tagger(vocab_size=20, num_tags=5, units=4, embedding_dim=4, learning_rate=3e-3))
    fast = with_fast_lstm(model)
    assert fast.optimizer is not model.optimizer
    assert float(fast.optimizer.learning_rate) == pytest.approx(3e-3)
    assert fast.get_compile_config()["metrics"] == model.get_compile_config()["metrics"]
    logs = fast.train_on_batch(np.array([[3, 4, 0]]), np.array([[1, 2, 0]]), return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    assert int(model.optimizer.iterations) == 0  # training the copy leaves the original's optimizer alone
    uncompiled = keras.Model.from_config(model.get_config())
    assert not with_fast_lstm(uncompiled).compiled
    assert type(with_keras_lstm(fast).get_layer("bidirectional_lstm_1").forward_layer) is keras.layers.LSTM


# FastLSTM, FastGRU and FastSimpleRNN against Keras' layers, on oneDNN's ops (kerasrnn/kernels/*_onednn_op.py).
FUSED_CELLS = {
    "lstm": (keras.layers.LSTM, FastLSTM, {}),
    "gru": (keras.layers.GRU, FastGRU, {}),
    "simple_rnn": (keras.layers.SimpleRNN, FastSimpleRNN, {}),
    "simple_rnn_relu": (keras.layers.SimpleRNN, FastSimpleRNN, {"activation": "relu"}),
}
needs_onednn_rnn = pytest.mark.skipif(
    load_onednn_rnn_ops() is None or load_onednn_lstm_ops() is None,
    reason=f"the oneDNN RNN ops are unavailable: {onednn_rnn_unavailable_reason() or onednn_unavailable_reason()}")


@pytest.fixture
def onednn_calls(monkeypatch):
    """The calls FastLSTM, FastGRU and FastSimpleRNN make to oneDNN's ops."""
    calls = []
    for attribute in ("onednn_lstm", "onednn_gru", "onednn_simple_rnn"):
        original = getattr(kerasrnn.kernels, attribute)

        def counting(*args, _original=original, **kwargs):
            calls.append(_original.__name__)
            return _original(*args, **kwargs)

        monkeypatch.setattr(kerasrnn.kernels, attribute, counting)
    return calls


def shakespeare_batch(lengths=(12, 1, 0, 7), time=12, features=6):
    """Embedded character ids of tinyshakespeare lines, right-padded to `time`: full, length-1 and all-padded rows."""
    with open(SHAKESPEARE, encoding="utf-8") as file:
        text = file.read(4096)
    ids = np.zeros((len(lengths), time), "int32")
    for row, length in enumerate(lengths):
        ids[row, :length] = [ord(character) % 60 + 1 for character in text[row * time: row * time + length]]
    embedding = np.random.default_rng(1).normal(size=(61, features)).astype("float32")
    return tf.constant(embedding[ids]), tf.constant(ids != 0)


def fused_twins(cell, direction, **options):
    keras_class, fast_class, cell_options = FUSED_CELLS[cell]
    layers = [layer_class(5, bias_initializer="random_normal", go_backwards=direction == "backward", **cell_options,
                          **options) for layer_class in (keras_class, fast_class)]
    if direction == "bidirectional":
        layers = [keras.layers.Bidirectional(layer) for layer in layers]
    return layers


def outputs_and_gradients(layer, x, **call_options):
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = tf.nest.flatten(layer(x, **call_options))
        # Every output takes part in the loss, each weighted differently.
        loss = sum(tf.reduce_sum(output * np.linspace(-1, 2, output.shape[-1])) * (index + 1)
                   for index, output in enumerate(outputs))
    return outputs, tape.gradient(loss, [x] + layer.trainable_weights)


def assert_same_as_keras(reference, fast, x, **call_options):
    reference(x, **call_options), fast(x, **call_options)
    fast.set_weights(reference.get_weights())
    (expected_outputs, expected_gradients), (outputs, gradients) = (
        outputs_and_gradients(layer, x, **call_options) for layer in (reference, fast))
    for expected, got in zip(expected_outputs, outputs, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-5)
    for expected, got in zip(expected_gradients, gradients, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-4)


@needs_onednn_rnn
@pytest.mark.parametrize("cell", list(FUSED_CELLS))
@pytest.mark.parametrize("direction", ["forward", "backward", "bidirectional"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_fused_cells_equal_keras_on_right_padded_batches(cell, direction, return_sequences, onednn_calls):
    x, mask = shakespeare_batch()
    reference, fast = fused_twins(cell, direction, return_sequences=return_sequences)
    assert_same_as_keras(reference, fast, x, mask=mask)
    assert onednn_calls, "the fused layer should have run oneDNN's op"
    # Unmasked too, where the op runs with no gathering around it.
    assert_same_as_keras(reference, fast, x)


@needs_onednn_rnn
@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_a_single_masked_example_runs_the_eigen_op_and_equals_keras(direction, onednn_calls, monkeypatch):
    # Outside training a batch of one takes FastLSTM's Eigen op (faster there), a larger batch oneDNN's.
    eigen_calls = []
    original = kerasrnn.kernels.fused_lstm
    monkeypatch.setattr(kerasrnn.kernels, "fused_lstm",
                        lambda *args, **kwargs: eigen_calls.append(1) or original(*args, **kwargs))
    x, mask = shakespeare_batch(lengths=(7,))
    reference, fast = fused_twins("lstm", direction, return_sequences=True)
    assert_same_as_keras(reference, fast, x, mask=mask)
    # Eager calls run only the branch taken: the gradient pass (a tape, training=False) did too.
    assert eigen_calls and not onednn_calls
    x, mask = shakespeare_batch(lengths=(7, 12))
    eigen_calls.clear()
    np.testing.assert_allclose(fast(x, mask=mask), reference(x, mask=mask), atol=1e-5)
    assert onednn_calls and not eigen_calls


@needs_onednn_rnn
@pytest.mark.parametrize("cell", list(FUSED_CELLS))
def test_fused_cells_return_and_carry_their_state(cell, onednn_calls):
    x, mask = shakespeare_batch(lengths=(12, 3))
    reference, fast = fused_twins(cell, "forward", return_sequences=True, return_state=True)
    # An LSTM has two states (h, c), the others one.
    initial_state = [tf.constant(state) for state in
                     np.random.default_rng(2).normal(size=(2 if cell == "lstm" else 1, 2, 5)).astype("float32")]
    assert_same_as_keras(reference, fast, x, mask=mask, initial_state=initial_state)
    reference, fast = fused_twins(cell, "forward", stateful=True)
    reference(x), fast(x)
    fast.set_weights(reference.get_weights())
    reference.reset_states(), fast.reset_states()
    for _ in range(2):  # the second call continues from the carried state
        np.testing.assert_allclose(fast(x), reference(x), atol=1e-5)
    assert onednn_calls


@needs_onednn_rnn
@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
@pytest.mark.parametrize("direction", ["forward", "backward", "bidirectional"])
def test_left_padded_and_holey_masks_run_the_op_too(cell, direction, onednn_calls):
    x, _ = shakespeare_batch(lengths=(12, 12, 12, 12))
    masks = [np.array([[1] * 12, [0] * 4 + [1] * 8, [1, 0] * 6, [0] * 11 + [1]], bool),
             np.array([[1] * 12, [1] * 5 + [0] * 7, [0] * 12, [0, 1] * 6], bool)]
    for mask in masks:  # left-padded, holey, length-1 and all-padded rows
        reference, fast = fused_twins(cell, direction, return_sequences=True)
        assert_same_as_keras(reference, fast, x, mask=tf.constant(mask))
    assert onednn_calls


@needs_onednn_rnn
@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_stacked_builder_models_equal_their_keras_twins(cell, onednn_calls):
    # with_fast_rnn keeps the builders' fused layers (and would swap in any Keras one).
    model = with_fast_rnn(build_sentiment_classifier(vocab_size=61, units=4, embedding_dim=4, cell=cell, num_layers=2))
    assert type(model.get_layer(f"bidirectional_{cell}_1").forward_layer) is FUSED_CELLS[cell][1]
    reference = with_keras_rnn(model)
    assert type(reference.get_layer(f"bidirectional_{cell}_1").forward_layer) is FUSED_CELLS[cell][0]
    ids = np.array([[5, 6, 7, 0, 0], [8, 0, 0, 0, 0], [9, 10, 11, 12, 13]])
    for network in (model, reference):
        with tf.GradientTape() as tape:
            predictions = network(ids)
            loss = tf.reduce_sum(predictions * np.linspace(-1, 2, predictions.shape[-1]) * [[1.0], [-2.0], [3.0]])
        network.results = loss, tape.gradient(loss, network.trainable_weights)
    np.testing.assert_allclose(model.results[0], reference.results[0], atol=1e-5)
    for expected, got in zip(reference.results[1], model.results[1], strict=True):
        np.testing.assert_allclose(tf.convert_to_tensor(got), tf.convert_to_tensor(expected), atol=1e-4)
    assert onednn_calls


@pytest.mark.parametrize("cell", list(FUSED_CELLS))
def test_fused_cells_fall_back_for_recurrent_dropout_and_without_the_op(cell, monkeypatch, onednn_calls):
    x, mask = shakespeare_batch()
    _, fast = fused_twins(cell, "forward", recurrent_dropout=0.5, dropout=0.5, seed=1)
    assert fast(x, mask=mask, training=True).shape == (4, 5)
    assert not onednn_calls  # recurrent dropout runs per step in Keras' loop
    monkeypatch.setenv("KERASRNN_FUSED_KERNELS", "0")
    reference, fast = fused_twins(cell, "bidirectional")
    assert_same_as_keras(reference, fast, x, mask=mask)
    assert not onednn_calls


def test_with_fast_rnn_round_trip_and_safe_mode_load(tmp_path):
    model = with_keras_rnn(build_pos_tagger(vocab_size=20, num_tags=5, units=4, embedding_dim=4, cell="gru"))
    assert type(model.get_layer("bidirectional_gru_1").forward_layer) is keras.layers.GRU
    fast = with_fast_rnn(model)
    layer = fast.get_layer("bidirectional_gru_1").forward_layer
    assert type(layer) is FastGRU
    assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()
    path = os.path.join(tmp_path, "fast.keras")
    fast.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert type(loaded.get_layer("bidirectional_gru_1").forward_layer) is FastGRU
    ids = np.array([[5, 6, 7, 0, 0]])
    np.testing.assert_allclose(loaded.predict(ids, verbose=0), model.predict(ids, verbose=0), atol=1e-5)


def test_zoo_load_runs_older_gru_models_on_the_builders_layers(tmp_path):
    # Zoo models saved before FastGRU / FastSimpleRNN name Keras' layers: the loader gives them the builders' layers.
    from kerasrnn.tasks.char_lm import CharLanguageModel, CharLanguageModelPreprocessor
    from kerasrnn.zoo.api import load

    preprocessor = CharLanguageModelPreprocessor(sorted(set("to be or not")), sequence_length=6)
    for cell in ("gru", "simple_rnn"):
        network = with_keras_rnn(build_char_lm(len(preprocessor.labels), units=4, num_layers=1, embedding_dim=3,
                                               cell=cell))
        path = str(tmp_path / f"{cell}.keras")
        CharLanguageModel(network, preprocessor).save(path)
        loaded = load(path)
        layer = next(layer for layer in loaded.network.layers if isinstance(layer, keras.layers.RNN))
        assert type(layer) is {"gru": FastGRU, "simple_rnn": FastSimpleRNN}[cell]
        ids = np.array([[1, 2, 3, 4]])
        np.testing.assert_allclose(loaded.network(ids), network(ids), atol=1e-5)
