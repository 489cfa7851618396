"""FastLSTM is a drop-in for keras.layers.LSTM (its batched-projection loop; the fused op: kerasrnn/kernels)."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasrnn.diagnostics.unroll import unrolled_forward
from kerasrnn.tasks.char_lm.sampler import CharStepper
from kerasrnn.layers.fast_rnn import FastLSTM, with_fast_lstm, with_keras_lstm
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
