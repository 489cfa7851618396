"""The fused LSTM op equals Keras' LSTM (outputs, gradients, training) and fails cleanly."""

import os
import re
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasrnn.kernels
from kerasrnn.data.conllu import read_conllu
from kerasrnn.kernels import lstm_onednn_op, lstm_op
from kerasrnn.layers.fast_rnn import FastLSTM, with_keras_lstm
from kerasrnn.shared_data import EWT_DIR
from kerasrnn.tasks import build_char_lm, build_pos_tagger

OPS = lstm_op.load_lstm_ops()
needs_op = pytest.mark.skipif(
    OPS is None, reason=f"the fused LSTM op could not be built or loaded: {lstm_op.unavailable_reason()}")
RNG = np.random.default_rng(0)
# One row per kind of mask: none masked, right-padded, left-padded, holes, all masked.
MASK = np.array([[1] * 7, [1] * 4 + [0] * 3, [0] * 3 + [1] * 4, [1, 0, 1, 1, 0, 0, 1], [0] * 7], bool)


@pytest.fixture
def fused_calls(monkeypatch):
    """Counts the calls FastLSTM makes to the fused ops, by name: "eigen" (lstm_op) or "onednn"."""
    calls = []
    for name, attribute in (("eigen", "fused_lstm"), ("onednn", "onednn_lstm")):
        original = getattr(kerasrnn.kernels, attribute)

        def counting(*args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(kerasrnn.kernels, attribute, counting)
    return calls


@pytest.fixture(params=["onednn", "eigen"])
def unmasked_kernel(request, monkeypatch):
    """The op unmasked sequences run on: oneDNN's where it builds, else (KERASRNN_ONEDNN=0) the Eigen op."""
    if request.param == "eigen":
        monkeypatch.setenv("KERASRNN_ONEDNN", "0")
    elif lstm_onednn_op.load_onednn_lstm_ops() is None:
        pytest.skip(f"the oneDNN LSTM op is unavailable: {lstm_onednn_op.onednn_unavailable_reason()}")
    return request.param


def twins(units=5, **options):
    reference, fast = keras.layers.LSTM(units, **options), FastLSTM(units, **options)
    return reference, fast


def same_weights(reference, fast, *inputs, **call_options):
    reference(*inputs, **call_options), fast(*inputs, **call_options)
    # A non-zero bias, so the bias' place in the projection is checked too.
    weights = reference.get_weights()
    weights[2] = RNG.normal(size=weights[2].shape).astype("float32") * 0.5
    reference.set_weights(weights)
    fast.set_weights(weights)


def outputs_and_gradients(layer, call, watched):
    with tf.GradientTape() as tape:
        tape.watch(watched)
        outputs = tf.nest.flatten(call(layer))
        # Every output takes part (the sequence or last output, the final h
        # and c), each weighted differently.
        loss = sum(tf.reduce_sum(tf.square(output - 0.5)) * (k + 1) for k, output in enumerate(outputs))
    return outputs, tape.gradient(loss, [*watched, *layer.trainable_weights])


def assert_same_as_keras(reference, fast, call, watched, watched_names):
    """`call(layer)`'s outputs (to 1e-5) and their gradients (to 1e-4) by `watched` and the weights."""
    (expected_outputs, expected_grads), (outputs, grads) = (
        outputs_and_gradients(layer, call, watched) for layer in (reference, fast))
    for expected, got in zip(expected_outputs, outputs, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-5)
    names = [*watched_names, *(weight.path for weight in fast.trainable_weights)]
    for name, expected, got in zip(names, expected_grads, grads, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-4, err_msg=name)


@needs_op
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("shape", [(3, 7, 4), (1, 5, 4), (3, 1, 4)])
def test_outputs_equal_keras(fused_calls, unmasked_kernel, return_sequences, go_backwards, shape):
    x = RNG.normal(size=shape).astype("float32")
    reference, fast = twins(return_sequences=return_sequences, go_backwards=go_backwards, return_state=True)
    same_weights(reference, fast, x)
    fused_calls.clear()
    for got, expected in zip(fast(x), reference(x)):
        np.testing.assert_allclose(got, expected, atol=1e-5)
    assert fused_calls and set(fused_calls) == {unmasked_kernel}, fused_calls


@needs_op
def test_initial_state_and_bidirectional_equal_keras(fused_calls, unmasked_kernel):
    x = RNG.normal(size=(2, 6, 3)).astype("float32")
    h0, c0 = (RNG.normal(size=(2, 5)).astype("float32") for _ in range(2))
    reference, fast = twins(return_sequences=True)
    same_weights(reference, fast, x, initial_state=[h0, c0])
    np.testing.assert_allclose(fast(x, initial_state=[h0, c0]), reference(x, initial_state=[h0, c0]), atol=1e-5)

    wrapped_reference = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True))
    wrapped_fast = keras.layers.Bidirectional(FastLSTM(4, return_sequences=True))
    wrapped_reference(x), wrapped_fast(x)
    wrapped_fast.set_weights(wrapped_reference.get_weights())
    fused_calls.clear()
    np.testing.assert_allclose(wrapped_fast(x), wrapped_reference(x), atol=1e-5)
    assert fused_calls == [unmasked_kernel] * 2  # both directions


@needs_op
@pytest.mark.parametrize("return_sequences", [True, False])
def test_gradients_equal_keras(fused_calls, unmasked_kernel, return_sequences):
    x = tf.constant(RNG.normal(size=(3, 6, 4)).astype("float32"))
    h0, c0 = (tf.constant(RNG.normal(size=(3, 5)).astype("float32")) for _ in range(2))
    reference, fast = twins(return_sequences=return_sequences, return_state=True)
    same_weights(reference, fast, x, initial_state=[h0, c0])
    assert_same_as_keras(reference, fast, lambda layer: layer(x, initial_state=[h0, c0]), [x, h0, c0],
                         ["inputs", "h0", "c0"])
    assert fused_calls and set(fused_calls) == {unmasked_kernel}, fused_calls


@needs_op
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_masked_outputs_and_gradients_equal_keras(fused_calls, zero_output_for_mask, return_sequences, go_backwards):
    x = tf.constant(RNG.normal(size=(5, 7, 4)).astype("float32"))
    # A non-zero initial state: Keras' masked steps before the first real
    # one output zeros, not h0, while the state stays h0.
    h0, c0 = (tf.constant(RNG.normal(size=(5, 5)).astype("float32")) for _ in range(2))
    reference, fast = twins(return_sequences=return_sequences, go_backwards=go_backwards,
                            zero_output_for_mask=zero_output_for_mask, return_state=True)
    same_weights(reference, fast, x, initial_state=[h0, c0])
    fused_calls.clear()
    assert_same_as_keras(reference, fast, lambda layer: layer(x, initial_state=[h0, c0], mask=MASK), [x, h0, c0],
                         ["inputs", "h0", "c0"])
    assert fused_calls, "FastLSTM should have run the fused op on masked inputs"


@needs_op
@pytest.mark.parametrize("return_sequences", [True, False])
def test_masked_bidirectional_equals_keras(fused_calls, return_sequences):
    x = tf.constant(RNG.normal(size=(5, 7, 3)).astype("float32"))
    wrapped_reference = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=return_sequences))
    wrapped_fast = keras.layers.Bidirectional(FastLSTM(4, return_sequences=return_sequences))
    # Bidirectional sets zero_output_for_mask to return_sequences on both directions.
    assert wrapped_fast.forward_layer.zero_output_for_mask is return_sequences
    wrapped_reference(x), wrapped_fast(x)
    wrapped_fast.set_weights(wrapped_reference.get_weights())
    fused_calls.clear()
    assert_same_as_keras(wrapped_reference, wrapped_fast, lambda layer: layer(x, mask=MASK), [x], ["inputs"])
    assert len(fused_calls) == 2  # both directions


@needs_op
def test_masked_stateful_layer_carries_the_state_like_keras(fused_calls):
    windows = RNG.normal(size=(2, 5, 7, 4)).astype("float32")
    reference, fast = twins(stateful=True, return_sequences=True)
    same_weights(reference, fast, windows[0])
    reference.reset_states(), fast.reset_states()
    fused_calls.clear()
    # The second window's masks differ, so rows masked throughout one window
    # carry their state into the next.
    for window, mask in zip(windows, (MASK, MASK[::-1])):
        np.testing.assert_allclose(fast(window, mask=mask), reference(window, mask=mask), atol=1e-5)
        for expected, got in zip(reference.states, fast.states, strict=True):
            np.testing.assert_allclose(got, expected, atol=1e-5)
    assert len(fused_calls) == 2


@needs_op
def test_pos_tagger_train_step_on_real_sentences_equals_keras(fused_calls):
    sentences = read_conllu(os.path.join(EWT_DIR, "en_ewt-ud-dev.conllu"))[:6]
    words = {word: i for i, word in enumerate(sorted({w for s, _ in sentences for w in s}), start=2)}
    tags = {tag: i for i, tag in enumerate(sorted({t for _, s in sentences for t in s}))}
    width = max(len(s) for s, _ in sentences)
    ids = np.zeros((len(sentences), width), "int32")  # 0 = padding, masked by the embedding
    tag_ids = np.zeros_like(ids)
    for row, (sentence_words, sentence_tags) in enumerate(sentences):
        ids[row, : len(sentence_words)] = [words[w] for w in sentence_words]
        tag_ids[row, : len(sentence_tags)] = [tags[t] for t in sentence_tags]
    assert (ids == 0).any(), "the sentences should differ in length, so that some are padded"
    fast = build_pos_tagger(vocab_size=len(words) + 2, num_tags=len(tags), cell="lstm", units=8, embedding_dim=8)
    reference = with_keras_lstm(fast)

    def train_step(model):
        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2)
        def step(x, y):
            with tf.GradientTape() as tape:
                predictions = model(x, training=True)
                loss = model.compute_loss(x=x, y=y, y_pred=predictions)
            return predictions, loss, [tf.convert_to_tensor(g) for g in tape.gradient(loss, model.trainable_weights)]

        return step(ids, tag_ids)

    expected_predictions, expected_loss, expected_grads = train_step(reference)
    assert not fused_calls
    predictions, loss, grads = train_step(fast)
    assert len(fused_calls) == 2  # both directions of the BiLSTM, traced once
    # The padding's predictions too: the loss skips them, the outputs must still be Keras'.
    np.testing.assert_allclose(predictions, expected_predictions, atol=1e-5)
    np.testing.assert_allclose(loss, expected_loss, atol=1e-4)
    for weight, expected, got in zip(fast.trainable_weights, expected_grads, grads, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-4, err_msg=weight.path)


@needs_op
def test_stateful_two_layer_char_lm_trains_like_keras(fused_calls, unmasked_kernel):
    fast = build_char_lm(vocab_size=11, units=8, num_layers=2, embedding_dim=4, stateful=True, batch_size=2)
    reference = with_keras_lstm(fast)  # Keras' own LSTM layers, the same weights
    ids = RNG.integers(1, 11, size=(3, 2, 6)).astype("int32")
    for x, y in zip(ids[:-1], ids[1:]):  # two TBPTT windows: the state carries over
        expected = reference.train_on_batch(x, y, return_dict=True)["loss"]
        got = fast.train_on_batch(x, y, return_dict=True)["loss"]
        np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert fused_calls and set(fused_calls) == {unmasked_kernel}, fused_calls
    for expected, got in zip(reference.get_weights(), fast.get_weights()):
        np.testing.assert_allclose(got, expected, atol=1e-5)
    for expected, got in zip(reference.get_layer("lstm_2").states, fast.get_layer("lstm_2").states):
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_switched_off_by_the_environment_falls_back_to_keras(fused_calls, monkeypatch):
    monkeypatch.setenv("KERASRNN_FUSED_KERNELS", "0")
    assert lstm_op.load_lstm_ops() is None
    assert "KERASRNN_FUSED_KERNELS=0" in lstm_op.unavailable_reason()
    x = RNG.normal(size=(2, 4, 3)).astype("float32")
    reference, fast = twins(return_sequences=True)
    same_weights(reference, fast, x)
    np.testing.assert_allclose(fast(x), reference(x), atol=1e-5)
    assert not fused_calls


@needs_op
def test_masks_use_the_op_and_switched_off_layers_the_keras_loop(fused_calls):
    x = RNG.normal(size=(2, 4, 3)).astype("float32")
    reference, fast = twins(return_sequences=True)
    same_weights(reference, fast, x)
    fused_calls.clear()
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
    np.testing.assert_allclose(fast(x, mask=mask), reference(x, mask=mask), atol=1e-5)
    assert len(fused_calls) == 1
    fast.use_fused_kernel = False
    np.testing.assert_allclose(fast(x, mask=mask), reference(x, mask=mask), atol=1e-5)
    np.testing.assert_allclose(fast(x), reference(x), atol=1e-5)
    assert len(fused_calls) == 1


def test_no_compiler_gives_a_reason_not_a_crash(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASRNN_KERNEL_CACHE", str(tmp_path))
    monkeypatch.setenv("CXX", "no-such-compiler-kerasrnn")
    with pytest.raises(RuntimeError, match="no C\\+\\+ compiler"):
        lstm_op.build()
    assert not list(tmp_path.rglob("*.so*")), "a failed build must leave no library behind"


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ to fail on a broken source")
def test_a_failed_build_names_the_error(tmp_path, monkeypatch):
    monkeypatch.delenv("CXX", raising=False)
    broken = tmp_path / "broken.cc"
    broken.write_text("this is not C++;\n")
    monkeypatch.setenv("KERASRNN_KERNEL_CACHE", str(tmp_path / "cache"))
    with pytest.raises(RuntimeError, match="failed"):
        lstm_op.build(str(broken))
    assert not list((tmp_path / "cache").rglob("*.so*"))


@pytest.fixture
def picky_source(tmp_path, monkeypatch):
    """A C++ file that builds unless KERASRNN_PICKY is defined, with an empty kernel cache."""
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setenv("KERASRNN_KERNEL_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "picky.cc"
    source.write_text(PICKY_SOURCE)
    return source


PICKY_SOURCE = '#ifdef KERASRNN_PICKY\n#error this target is refused on purpose\n#endif\nextern "C" int picky() { return 1; }\n'


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_a_target_that_fails_to_build_falls_back_to_the_next(picky_source, tmp_path, monkeypatch):
    monkeypatch.setattr(lstm_op, "TARGET_FLAGS", (("-DKERASRNN_PICKY",), ()))
    path = lstm_op.build(str(picky_source))
    assert path == lstm_op.library_path(str(picky_source), (), ())
    assert [p.name for p in (tmp_path / "cache").rglob("*.so*")] == [os.path.basename(path)]
    compiles = []
    monkeypatch.setattr(lstm_op.subprocess, "run", lambda *args, **kwargs: compiles.append(args))
    assert lstm_op.build(str(picky_source)) == path
    assert not compiles, "a later process must find the fallback's library, not build again"


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_when_every_target_fails_the_message_has_each_compiler_error(picky_source, tmp_path, monkeypatch):
    monkeypatch.setattr(lstm_op, "TARGET_FLAGS", (("-DKERASRNN_PICKY",), ("-DKERASRNN_PICKY", "-O0")))
    with pytest.raises(RuntimeError) as raised:
        lstm_op.build(str(picky_source))
    message = str(raised.value)
    assert message.count("error: #error this target is refused on purpose") == 2
    assert "with -DKERASRNN_PICKY failed" in message and "with -DKERASRNN_PICKY -O0 failed" in message
    assert not list((tmp_path / "cache").rglob("*.so*"))


@needs_op
def test_mismatched_shapes_give_clear_errors():
    projected, state, kernel = np.zeros((2, 3, 8), "float32"), np.zeros((2, 2), "float32"), np.zeros((2, 8), "float32")
    cases = [
        ((projected, state, state, np.zeros((2, 6), "float32")), "recurrent_kernel"),
        ((np.zeros((2, 3, 7), "float32"), state, state, kernel), "projected"),
        ((projected, np.zeros((3, 2), "float32"), state, kernel), "h0"),
        ((projected, state, np.zeros((2, 3), "float32"), kernel), "c0"),
        ((np.zeros((2, 8), "float32"), state, state, kernel), "projected"),
    ]
    for arguments, name in cases:
        with pytest.raises((tf.errors.InvalidArgumentError, ValueError), match=name):
            # The raw op, so the kernel's own checks run (not only the shape function).
            OPS.kerasrnn_lstm_forward(*(tf.constant(a) for a in arguments))
    for mask in (np.ones((2, 4), bool), np.ones((3, 3), bool), np.ones((2, 3, 1), bool)):
        with pytest.raises((tf.errors.InvalidArgumentError, ValueError), match="mask"):
            OPS.kerasrnn_lstm_masked_forward(projected, state, state, kernel, mask)
    with pytest.raises(ValueError, match="time steps"):
        FastLSTM(2)(np.zeros((2, 0, 3), "float32"))


@needs_op
@pytest.mark.parametrize("mask", [None, np.zeros((2, 0), bool)])
def test_zero_time_steps_op_gives_empty_outputs_and_zero_gradients(mask):
    projected = tf.zeros((2, 0, 8))
    h0, c0 = tf.ones((2, 2)), tf.ones((2, 2))
    kernel = tf.ones((2, 8))
    with tf.GradientTape() as tape:
        tape.watch([projected, h0, c0, kernel])
        h, c = lstm_op.fused_lstm(projected, h0, c0, kernel, mask=mask)
        loss = tf.reduce_sum(h) + tf.reduce_sum(c)
    assert tuple(h.shape) == tuple(c.shape) == (2, 0, 2)
    d_projected, dh0, dc0, d_kernel = tape.gradient(loss, [projected, h0, c0, kernel])
    assert tuple(d_projected.shape) == (2, 0, 8)
    assert float(tf.reduce_sum(tf.abs(dh0))) == float(tf.reduce_sum(tf.abs(dc0))) == 0.0
    assert float(tf.reduce_sum(tf.abs(d_kernel))) == 0.0


def build_in_a_fresh_process(source, cache, target_flags=None):
    """Run `lstm_op.build(source)` twice in a new Python process; return its (stdout, stderr)."""
    code = "import sys\nfrom kerasrnn.kernels import lstm_op\n"
    if target_flags is not None:
        code += f"lstm_op.TARGET_FLAGS = {target_flags!r}\n"
    code += ("for _ in range(2):\n"
             "    try:\n"
             f"        lstm_op.build({str(source)!r})\n"
             "    except RuntimeError:\n"
             "        pass\n")
    environment = {**os.environ, "KERASRNN_KERNEL_CACHE": str(cache), "TF_CPP_MIN_LOG_LEVEL": "3"}
    environment.pop("CXX", None)
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment,
                              timeout=300, check=True)
    return finished.stdout, finished.stderr


def build_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("kerasrnn: ")]


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_a_build_says_what_how_long_and_where_once_on_stderr(picky_source, tmp_path):
    stdout, stderr = build_in_a_fresh_process(picky_source, tmp_path / "cache")
    lines = build_lines(stderr)
    assert len(lines) == 2, stderr  # before and after the one build; the second call finds the cache
    assert lines[0].startswith("kerasrnn: compiling picky.cc with g++") and "about 60 s" in lines[0]
    assert f"cached in {tmp_path / 'cache'}" in lines[0]
    assert re.fullmatch(r"kerasrnn: built picky\.cc in \d+ s", lines[1]), lines[1]
    assert stdout == "", "stdout is the command line's JSON; build messages go to stderr"
    _, stderr = build_in_a_fresh_process(picky_source, tmp_path / "cache")
    assert not build_lines(stderr), "a cached library is loaded without a word"


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_a_build_whose_first_target_fails_still_says_so_once(picky_source, tmp_path):
    # The real compiler refuses the first target (#error), then builds the second: one build, one message.
    _, stderr = build_in_a_fresh_process(picky_source, tmp_path / "cache", (("-DKERASRNN_PICKY",), ()))
    lines = build_lines(stderr)
    assert [line.split(" ")[1] for line in lines] == ["compiling", "built"], stderr


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_a_failed_build_says_the_fallback_runs(picky_source, tmp_path):
    _, stderr = build_in_a_fresh_process(picky_source, tmp_path / "cache", (("-DKERASRNN_PICKY",),))
    lines = build_lines(stderr)
    # The second call builds again (nothing was cached), so each attempt says so.
    assert [line.split(" ")[1] for line in lines] == ["compiling", "building"] * 2, stderr
    assert "failed after" in lines[1] and "fallback" in lines[1]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_the_first_lstm_call_on_a_fresh_cache_announces_the_real_build(tmp_path, request):
    # The real op (about a minute): the message comes before the build, once, with the measured estimate.
    if not request.config.getoption("--runslow", default=False):  # also when run without the root conftest.py
        pytest.skip("slow: run with --runslow")
    code = ("import numpy as np\nfrom kerasrnn.layers.fast_rnn import FastLSTM\n"
            "layer = FastLSTM(2)\nlayer(np.zeros((1, 3, 2), 'float32'))\nlayer(np.zeros((1, 3, 2), 'float32'))\n")
    environment = {**os.environ, "KERASRNN_KERNEL_CACHE": str(tmp_path), "KERASRNN_ONEDNN": "0",
                   "TF_CPP_MIN_LOG_LEVEL": "3"}
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment,
                              timeout=900, check=True)
    lines = build_lines(finished.stderr)
    assert len(lines) == 2, finished.stderr
    assert lines[0].startswith("kerasrnn: compiling the fused LSTM kernel (lstm_ops.cc)")
    assert f"about {lstm_op.BUILD_SECONDS} s" in lines[0] and str(tmp_path) in lines[0]
    assert lines[1].startswith("kerasrnn: built the fused LSTM kernel (lstm_ops.cc) in ")
