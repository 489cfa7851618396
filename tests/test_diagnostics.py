"""Gradient diagnostics: the physics of vanishing/exploding gradients, clipping, the monitor.

Every test feeds real text (Tiny Shakespeare characters, UD English EWT
sentences) through an embedding; only the recurrent kernels of the physics
tests are set by hand, to a known spectral norm.
"""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import EWT_DIR, SHAKESPEARE
from kerasrnn.data import read_conllu, read_text, tbptt_dataset
from kerasrnn.diagnostics import (
    GradientNormMonitor,
    decay_rate,
    gradient_flow,
    recurrent_spectrum,
)
from kerasrnn.tasks import build_char_lm, build_pos_tagger
from kerasrnn.tasks.char_lm import CharLanguageModelPreprocessor


@pytest.fixture(scope="module")
def text_ids():
    text = read_text(SHAKESPEARE)[:200_000]
    characters = sorted(set(text))
    return CharLanguageModelPreprocessor(characters).encode(text), len(characters) + 1


def windows(ids, steps, batch, offset=150_000, every_step=False):
    """`batch` real windows of `steps` characters and the next character (after each one)."""
    starts = offset + np.arange(batch) * 997
    inputs = np.stack([ids[s : s + steps] for s in starts])
    if every_step:
        return inputs, np.stack([ids[s + 1 : s + steps + 1] for s in starts])
    return inputs, ids[starts + steps]


def many_to_one_rnn(vocab_size, units, activation, recurrent_kernel, seed=0):
    """Embedding → SimpleRNN (hand-set recurrent kernel) → Dense, predicting the next character."""
    keras.utils.set_random_seed(seed)
    ids = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(vocab_size, 16)(ids)
    x = keras.layers.SimpleRNN(units, activation=activation, name="rnn")(x)
    model = keras.Model(ids, keras.layers.Dense(vocab_size)(x))
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.get_layer("rnn").cell.recurrent_kernel.assign(recurrent_kernel)
    return model


def orthogonal(units, seed=0):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(units, units)))
    return (q * np.sign(np.diag(r))).astype("float32")


def with_spectral_norm(units, norm, seed=0):
    matrix = np.random.default_rng(seed).normal(size=(units, units))
    return (norm * matrix / np.linalg.norm(matrix, ord=2)).astype("float32")


# -- vanishing and exploding: the physics -------------------------------------


def test_linear_rnn_with_spectral_norm_half_decays_geometrically(text_ids):
    ids, vocab = text_ids
    steps = 100
    batch = windows(ids, steps, 8)
    lags = np.arange(steps)[::-1]  # steps back from the last state

    # Any kernel of spectral norm 0.5: ‖∂h_T/∂h_t‖ ≤ 0.5^(T-t) for a linear RNN.
    flow = gradient_flow(many_to_one_rnn(vocab, 32, "linear", with_spectral_norm(32, 0.5)), batch).get("rnn")
    assert np.all(flow.jacobian_norm <= 0.5**lags * (1 + 1e-4))
    assert flow.jacobian_norm[0] < 1e-25

    # 0.5 × orthogonal: every step back scales the gradient by exactly 0.5.
    flow = gradient_flow(many_to_one_rnn(vocab, 32, "linear", 0.5 * orthogonal(32)), batch).get("rnn")
    assert decay_rate(flow.jacobian_norm) == pytest.approx(math.log(0.5), abs=0.01)
    assert decay_rate(flow.loss_gradient_norm) == pytest.approx(math.log(0.5), abs=0.01)
    # Many-to-one: the loss reaches h_t only through h_T, so ∂L/∂h_t = ∂L/∂h_T · (0.5 Q)^k.
    expected = flow.loss_gradient_norm[-1] * 0.5**lags
    np.testing.assert_allclose(flow.loss_gradient_norm, expected, rtol=1e-3)


def test_linear_rnn_with_spectral_norm_two_explodes(text_ids):
    ids, vocab = text_ids
    steps = 40
    flow = gradient_flow(many_to_one_rnn(vocab, 32, "linear", 2.0 * orthogonal(32)), windows(ids, steps, 8))
    norms = flow.get("rnn").jacobian_norm
    assert np.all(np.diff(norms) < 0)  # larger the further back
    assert decay_rate(norms) == pytest.approx(math.log(2.0), abs=0.01)
    assert norms[0] == pytest.approx(2.0 ** (steps - 1), rel=1e-3)


def test_tanh_rnn_obeys_the_spectral_norm_bound(text_ids):
    # tanh' ≤ 1, so a tanh RNN can only shrink more than its kernel allows.
    ids, vocab = text_ids
    steps = 80
    model = many_to_one_rnn(vocab, 32, "tanh", with_spectral_norm(32, 0.9, seed=1))
    norms = gradient_flow(model, windows(ids, steps, 8)).get("rnn").jacobian_norm
    assert np.all(norms <= 0.9 ** np.arange(steps)[::-1] * (1 + 1e-4))


def train_briefly(model, ids, steps=120):
    dataset = tbptt_dataset(ids[:140_000], 32, 50).take(steps)
    model.fit(dataset, epochs=1, verbose=0)
    return model


def test_lstm_keeps_orders_of_magnitude_more_gradient_than_simple_rnn(text_ids):
    ids, vocab = text_ids
    batch = windows(ids, 100, 8, every_step=True)  # held-out characters, the same batch for both
    first_step = {}
    for cell in ("simple_rnn", "lstm"):
        keras.utils.set_random_seed(7)
        model = train_briefly(build_char_lm(vocab, cell=cell, units=32, num_layers=1), ids)
        first_step[cell] = gradient_flow(model, batch).get(f"{cell}_1").jacobian_norm[0]
    # After a short training the tanh units saturate and the SimpleRNN loses the
    # gradient over 100 steps; the LSTM's additive cell state (forget bias 1) keeps it.
    assert first_step["lstm"] > 1e3 * first_step["simple_rnn"]


def test_masked_padding_gets_no_gradient_and_loss_matches_keras():
    # Stacked, bidirectional tagger on real EWT sentences, padded with id 0.
    sentences = read_conllu(f"{EWT_DIR}/en_ewt-ud-dev.conllu")[:6]
    words = sorted({w for ws, _ in sentences for w in ws})
    tags = sorted({t for _, ts in sentences for t in ts})
    steps = max(len(ws) for ws, _ in sentences)
    inputs = np.zeros((len(sentences), steps), "int32")
    targets = np.zeros((len(sentences), steps), "int32")
    for row, (ws, ts) in enumerate(sentences):
        inputs[row, : len(ws)] = [words.index(w) + 2 for w in ws]
        targets[row, : len(ts)] = [tags.index(t) for t in ts]
    keras.utils.set_random_seed(3)
    model = build_pos_tagger(len(words) + 2, len(tags), cell="gru", units=16, num_layers=2)
    flow = gradient_flow(model, (inputs, targets))
    assert [(d.layer, d.direction) for d in flow.directions] == [
        ("bidirectional_gru_1", "forward"),
        ("bidirectional_gru_1", "backward"),
        ("bidirectional_gru_2", "forward"),
        ("bidirectional_gru_2", "backward"),
    ]
    reference = model.compute_loss(y=targets, y_pred=model(inputs), training=False)
    assert flow.loss == pytest.approx(float(reference), rel=1e-5)
    assert (inputs == 0).any(), "some sentences are padded"

    # Five more padding steps: the loss and every real step's gradient stay the same,
    # and the forward states on the padding reach no loss at all.
    extra = 5
    padded = gradient_flow(model, (np.pad(inputs, ((0, 0), (0, extra))), np.pad(targets, ((0, 0), (0, extra)))))
    assert padded.loss == pytest.approx(flow.loss, rel=1e-6)
    for layer in ("bidirectional_gru_1", "bidirectional_gru_2"):
        forward, padded_forward = flow.get(layer), padded.get(layer)
        np.testing.assert_allclose(padded_forward.loss_gradient_norm[:steps], forward.loss_gradient_norm, rtol=1e-4)
        assert np.all(padded_forward.loss_gradient_norm[steps:] == 0)
        backward, padded_backward = flow.get(layer, "backward"), padded.get(layer, "backward")
        assert padded_backward.positions[0] == steps + extra - 1  # it reads the end first
        np.testing.assert_allclose(padded_backward.loss_gradient_norm[extra:], backward.loss_gradient_norm, rtol=1e-4)


# -- the spectrum ---------------------------------------------------------------


def test_spectrum_reads_each_lstm_gate_block():
    model = build_char_lm(30, cell="lstm", units=8, num_layers=1)
    kernel = model.get_layer("lstm_1").cell.recurrent_kernel
    values = np.zeros((8, 32), "float32")
    values[:, 8:16] = 0.5 * orthogonal(8)  # the forget gate block
    values[:, 16:24] = with_spectral_norm(8, 3.0)  # the cell candidate block
    kernel.assign(values)
    gates = recurrent_spectrum(model)["lstm_1"]["forward"]
    assert gates["forget"]["max_singular_value"] == pytest.approx(0.5, rel=1e-5)
    assert gates["forget"]["spectral_radius"] == pytest.approx(0.5, rel=1e-5)
    assert gates["cell"]["max_singular_value"] == pytest.approx(3.0, rel=1e-5)
    assert gates["cell"]["spectral_radius"] <= 3.0 + 1e-5
    assert gates["input"]["max_singular_value"] == 0.0 and gates["output"]["spectral_radius"] == 0.0


# -- clipping and the monitor -----------------------------------------------------


class WeightSnapshots(keras.callbacks.Callback):
    """Weights before and after every step: with SGD(lr=1) their difference is the applied gradient."""

    def __init__(self):
        super().__init__()
        self.before, self.after = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.before.append([w.numpy().copy() for w in self.model.trainable_variables])

    def on_train_batch_end(self, batch, logs=None):
        self.after.append([w.numpy().copy() for w in self.model.trainable_variables])


@pytest.fixture
def float64():
    # Float64 weights make w_before - w_after recover the applied gradient to ~1e-15.
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize("clipping", [{"clipnorm": 1.0}, {"clipvalue": 0.5}])
def test_clipping_bounds_the_applied_gradient_and_the_flag_says_when(text_ids, float64, clipping):
    ids, vocab = text_ids
    keras.utils.set_random_seed(5)
    # He-initialized recurrent kernel: gradients explode at first, then clipping stops mattering.
    model = build_char_lm(
        vocab, cell="simple_rnn", units=32, num_layers=1, recurrent_initializer="he_normal",
        optimizer="sgd", learning_rate=1.0, **clipping,
    )
    batches = [(x.numpy(), y.numpy()) for x, y in tbptt_dataset(ids[:60_000], 16, 60).take(8)]
    monitor, snapshots = GradientNormMonitor(), WeightSnapshots()
    model.fit(tf.data.Dataset.from_tensor_slices(tuple(map(np.stack, zip(*batches)))), epochs=1,
              verbose=0, callbacks=[monitor, snapshots])
    embedding = [i for i, v in enumerate(model.trainable_variables) if "embedding" in v.path]
    flags = []
    for step, (inputs, targets) in enumerate(batches):
        for variable, value in zip(model.trainable_variables, snapshots.before[step]):
            variable.assign(value)
        with tf.GradientTape() as tape:
            loss = model.compute_loss(y=targets, y_pred=model(inputs, training=True))
        raw = [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, model.trainable_variables)]
        applied = [b - a for b, a in zip(snapshots.before[step], snapshots.after[step])]
        for index, gradient in enumerate(applied):
            if index in embedding:
                continue  # Keras clips IndexedSlices rows before summing repeats (see the monitor)
            if "clipnorm" in clipping:
                assert np.linalg.norm(gradient) <= 1.0 + 1e-6
            else:
                assert np.abs(gradient).max() <= 0.5 + 1e-6
        flags.append(any(not np.allclose(r, a, rtol=1e-9, atol=1e-12) for r, a in zip(raw, applied)))
        global_applied = math.sqrt(sum(float(np.sum(a**2)) for a in applied))
        assert monitor.history["global_norm_clipped"][step] == pytest.approx(global_applied, rel=1e-5)
        assert monitor.history["global_norm"][step] == pytest.approx(
            math.sqrt(sum(float(np.sum(r**2)) for r in raw)), rel=1e-5
        )
        assert monitor.history["max_abs_clipped"][step] == pytest.approx(
            max(np.abs(a).max() for a in applied), rel=1e-5
        )
    assert monitor.history["clipped"] == flags
    assert any(flags), "the test needs steps that were clipped"


def run_fit(ids, vocab, callbacks):
    keras.utils.set_random_seed(11)
    model = build_char_lm(vocab, cell="lstm", units=16, num_layers=2, dropout=0.2, clipnorm=0.05)
    dataset = tbptt_dataset(ids[:40_000], 16, 40).shuffle(64, seed=2)
    history = model.fit(dataset, epochs=2, verbose=0, callbacks=callbacks)
    return model, history


def test_monitor_leaves_training_bit_for_bit_unchanged(text_ids):
    ids, vocab = text_ids
    plain, _ = run_fit(ids, vocab, [])
    monitor = GradientNormMonitor(every=2)
    watched, history = run_fit(ids, vocab, [monitor])
    for a, b in zip(plain.get_weights() + [v.numpy() for v in plain.optimizer.variables],
                    watched.get_weights() + [v.numpy() for v in watched.optimizer.variables]):
        assert np.array_equal(a, b)
    assert 0 < history.history["clip_fraction"][0] <= 1
    assert set(monitor.history["layer_norms"]) == {"embedding", "lstm_1", "lstm_2", "logits"}
    assert monitor.history["step"][:3] == [2, 4, 6]


def test_monitor_writes_tensorboard_summaries(text_ids, tmp_path):
    pytest.importorskip("tensorboard", reason="TensorBoard summaries need the tensorboard package")
    ids, vocab = text_ids
    run_fit(ids, vocab, [GradientNormMonitor(every=5, log_dir=str(tmp_path), histograms=True)])
    assert any(path.name.startswith("events.out.tfevents") for path in tmp_path.iterdir())


def test_tensorboard_without_the_package_is_a_clear_error(tmp_path):
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="needs the `tensorboard` package"):
            GradientNormMonitor(log_dir=str(tmp_path))
    else:
        assert GradientNormMonitor(log_dir=str(tmp_path)).log_dir == str(tmp_path)


# -- bad input ------------------------------------------------------------------------


def test_model_without_recurrent_layer_is_refused():
    ids = keras.Input(shape=(None,), dtype="int32")
    model = keras.Model(ids, keras.layers.Dense(3)(keras.layers.Embedding(10, 4)(ids)))
    model.compile(loss="mse")
    with pytest.raises(ValueError, match="has no recurrent layer"):
        gradient_flow(model, (np.ones((2, 5), "int32"), np.ones((2, 5, 3))))
    with pytest.raises(ValueError, match="has no recurrent layer"):
        recurrent_spectrum(model)


@pytest.mark.parametrize(
    "batch, message",
    [
        ((np.ones((2, 5, 3), "int32"), np.ones((2, 5), "int32")), r"inputs must have shape \(None, None\)"),
        ((np.ones((2, 0), "int32"), np.ones((2, 0), "int32")), "at least one example and one step"),
        ((np.ones((2, 5), "int32"), np.ones((3, 5), "int32")), "one row per example"),
        (np.ones((2, 5), "int32"), r"must be a tuple \(inputs, targets\)"),
    ],
)
def test_batch_of_the_wrong_shape_is_refused(batch, message):
    model = build_char_lm(10, cell="gru", units=4, num_layers=1)
    with pytest.raises(ValueError, match=message):
        gradient_flow(model, batch)


def test_bad_options_are_refused():
    model = build_char_lm(10, cell="gru", units=4, num_layers=1)
    batch = (np.ones((2, 5), "int32"), np.ones((2, 5), "int32"))
    with pytest.raises(ValueError, match="`output_step` must be an integer step"):
        gradient_flow(model, batch, output_step=5)
    with pytest.raises(ValueError, match="`every` must be a positive integer"):
        GradientNormMonitor(every=0)
    with pytest.raises(ValueError, match="`histograms=True` needs `log_dir`"):
        GradientNormMonitor(histograms=True)


# -- the command line -------------------------------------------------------------------


def test_diagnose_command_writes_the_report(tmp_path, capsys):
    from kerasrnn.cli import main

    out = tmp_path / "report"
    status = main(["diagnose", "--data", SHAKESPEARE, "--out", str(out), "--seq-len", "24", "--units", "8",
                   "--probe-examples", "2", "--jacobian-examples", "1", "--train-steps", "2", "--clip-steps", "3"])
    assert status == 0
    assert sorted(path.name for path in out.iterdir()) == [
        "cells.png", "clipping.png", "initializers.png", "report.json", "summary.json"
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["clip_fraction"]) == {"none", "clipnorm", "clipvalue", "global_clipnorm"}
    assert summary["clip_fraction"]["none"] == 0.0
    report = json.loads((out / "report.json").read_text())
    assert len(report["cells"]["gru"]["trained"]["jacobian_norm"]) == 24
    assert len(report["clipping"]["clipnorm"]["global_norm"]) == 3


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--data", "no/such/input.txt"], "does not exist"),
        (["--data", SHAKESPEARE, "--seq-len", "0"], "`seq_len` must be"),
        # A treebank was read as prose by the char LM; each task's data reader now says what it reads.
        (["--data", f"{EWT_DIR}/en_ewt-ud-dev.conllu"], "is a CoNLL-U treebank (tab-separated token lines); "
         "`kerasrnn diagnose` reads the data of char_lm (a UTF-8 text file"),
    ],
)
def test_diagnose_command_reports_bad_input(tmp_path, capsys, arguments, message):
    from kerasrnn.cli import main

    assert main(["diagnose", "--out", str(tmp_path), *arguments]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())  # refused before anything is written
