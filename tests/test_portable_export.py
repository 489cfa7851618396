"""ONNX and LiteRT exports (issue 31): equal to Keras on real data, masked, bidirectional, stacked; run without TensorFlow.

Small networks of every cell, direction, depth and pooling get random
weights (biases included, so a misplaced gate or bias shows) and the real
vocabularies of the zoo models; the three smallest zoo models are checked
with their trained weights. Every comparison feeds real test data (IMDB
test reviews, EWT test sentences, Tiny Shakespeare's held-out text) as one
right-padded batch and row by row, unpadded. The whole zoo is measured by
benchmarks/portable_exports.py.
"""

import functools
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasrnn import zoo
from kerasrnn.cli import main
from kerasrnn.export.portable import UnsupportedLayerError, build_portable, export_portable
from kerasrnn.portable import text as portable_text
from kerasrnn.portable.runtimes import open_runner
from kerasrnn.shared_data import EWT_DIR, IMDB_TARBALL, SHAKESPEARE
from kerasrnn.tasks import average_of
from kerasrnn.tasks.char_lm import CharLanguageModel, build_char_lm
from kerasrnn.tasks.pos_tagger import PosTagger, PosTaggerPreprocessor, build_pos_tagger
from kerasrnn.tasks.sentiment import SentimentClassifier, build_sentiment_classifier

FORMATS = ("onnx", "litert")
ZOO = {"sentiment": "sentiment-imdb-birnn", "pos_tagger": "pos-ewt-birnn", "char_lm": "charlm-shakespeare-rnn"}
TOLERANCE = 1e-4


# -- real data ---------------------------------------------------------------------------------------


@functools.cache
def reviews(count=12):
    """IMDB test reviews spread over the split (negatives and positives), long ones included."""
    from kerasrnn.data.imdb import load_imdb

    texts, _ = load_imdb(IMDB_TARBALL, splits=("test",))["test"]
    return tuple(texts[:: len(texts) // count][:count])


@functools.cache
def sentences(count=None):
    """Word lists of the EWT test treebank (all of it by default)."""
    from kerasrnn.data.conllu import read_conllu

    read = read_conllu(os.path.join(EWT_DIR, "en_ewt-ud-test.conllu"))
    return tuple(tuple(words) for words, _ in read[:count])


@functools.cache
def held_out_text():
    from kerasrnn.data.text import read_text, split_text

    return split_text(read_text(SHAKESPEARE))[1]


@functools.cache
def zoo_model(task):
    return zoo.load(ZOO[task])


# -- small networks of every kind --------------------------------------------------------------------


def randomized(network, seed):
    # Random weights everywhere, biases too: zero biases (Keras' default) would hide a misplaced bias.
    rng = np.random.default_rng(seed)
    for weight in network.weights:
        weight.assign(rng.normal(0.0, 0.4, weight.shape).astype("float32"))
    return network


SENTIMENT = {
    "bilstm-2-max": dict(cell="lstm", bidirectional=True, num_layers=2, pooling="max"),
    "bigru-2-mean": dict(cell="gru", bidirectional=True, num_layers=2, pooling="mean"),
    "rnn-2-last": dict(cell="simple_rnn", bidirectional=False, num_layers=2, pooling="last"),
    "birnn-1-last": dict(cell="simple_rnn", bidirectional=True, num_layers=1, pooling="last"),
}
TAGGER = {
    "bilstm-2-chars": dict(cell="lstm", bidirectional=True, num_layers=2, characters=True),
    "gru-2": dict(cell="gru", bidirectional=False, num_layers=2, characters=False),
    "birnn-1-chars": dict(cell="simple_rnn", bidirectional=True, num_layers=1, characters=True),
}
CHAR_LM = {cell: dict(cell=cell) for cell in ("lstm", "gru", "simple_rnn")}


def small_model(task, name):
    reference = zoo_model(task).preprocessor
    if task == "sentiment":
        options = SENTIMENT[name]
        network = build_sentiment_classifier(len(reference.vocabulary), units=5, embedding_dim=4, **options)
        return SentimentClassifier(randomized(network, 1), reference)
    if task == "pos_tagger":
        options = dict(TAGGER[name])
        characters = reference.characters if options.pop("characters") else None
        preprocessor = PosTaggerPreprocessor(reference.vocabulary, reference.tags, characters)
        network = build_pos_tagger(len(reference.vocabulary), len(reference.tags), units=5, embedding_dim=4,
                                   char_vocab_size=None if characters is None else len(characters) + 2,
                                   char_embedding_dim=3, char_units=4, **options)
        return PosTagger(randomized(network, 2), preprocessor)
    network = build_char_lm(len(reference.labels), units=7, num_layers=2, embedding_dim=4, **CHAR_LM[name])
    return CharLanguageModel(randomized(network, 3), reference)


def keras_outputs(model, inputs):
    """The Keras network's inference outputs, through one traced function per network (an eager
    recurrent loop over a 400-word review takes seconds)."""
    function = getattr(model, "_test_reference", None)
    if function is None:
        network = model.network
        specs = {tensor.name: tf.TensorSpec([None] * len(tensor.shape), tf.int32) for tensor in network.inputs}
        if len(specs) == 1:
            function = tf.function(lambda ids: network(ids, training=False), input_signature=list(specs.values()))
        else:
            function = tf.function(lambda ids: network(ids, training=False), input_signature=[specs])
        model._test_reference = function
    network_inputs = model.network.inputs
    feeds = inputs["token_ids"] if len(network_inputs) == 1 else {t.name: inputs[t.name] for t in network_inputs}
    return np.asarray(function(feeds))


def assert_matches_keras(task, model, runner, output):
    """The exported graph equals Keras on real data: one right-padded batch, and every row alone."""
    if task == "sentiment":
        # With a review that has no token at all (a row of padding only: every step masked).
        rows = [portable_text.review_ids([review], _word_index(model), model.preprocessor.max_length)
                for review in reviews() + ("<br />",)]
        batch = {"token_ids": portable_text.pad([row[0].tolist() for row in rows])}
        singles = [{"token_ids": row} for row in rows]
    elif task == "pos_tagger":
        characters = model.preprocessor.characters
        index = portable_text.index_of(characters, 2) if characters else None
        chosen = sentences()[:24]
        batch = portable_text.sentence_ids(chosen, _word_index(model), index)
        singles = [portable_text.sentence_ids([words], _word_index(model), index) for words in chosen[:8]]
    else:
        ids = portable_text.character_ids(held_out_text()[:400], portable_text.index_of(model.preprocessor.characters, 1))
        batch, singles = {"token_ids": ids.reshape(4, 100)}, [{"token_ids": ids[None, :150]}]
    states = {}
    if task == "char_lm":
        for state in output["states"]:
            states[state["input"]] = np.zeros((len(batch["token_ids"]), state["size"]), "float32")
    name = output["output"]["name"]
    expected = keras_outputs(model, batch)
    got = runner(**batch, **states)[name]
    # Every position, padded ones too: the graphs give Keras' outputs there as well.
    np.testing.assert_allclose(got, expected, atol=TOLERANCE, rtol=0)
    for position, single in enumerate(singles):
        single_states = {key: value[:1] for key, value in states.items()}
        alone = runner(**single, **single_states)[name]
        np.testing.assert_allclose(alone, keras_outputs(model, single), atol=TOLERANCE, rtol=0)
        if task == "sentiment":
            np.testing.assert_allclose(alone[0], got[position], atol=TOLERANCE, rtol=0)  # padding changes nothing
        elif task == "pos_tagger":
            words = single["token_ids"].shape[1]
            np.testing.assert_allclose(alone[0], got[position, :words], atol=TOLERANCE, rtol=0)


def _word_index(model):
    return portable_text.index_of(model.preprocessor.vocabulary[2:], 2)


CASES = [("sentiment", name) for name in SENTIMENT] + [("pos_tagger", name) for name in TAGGER] + [
    ("char_lm", name) for name in CHAR_LM]


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("task, name", CASES, ids=[f"{task}-{name}" for task, name in CASES])
def test_every_cell_direction_and_depth_matches_keras(task, name, format):
    model = small_model(task, name)
    data, description = build_portable(model, format)
    assert_matches_keras(task, model, open_runner(format, data), description)


@pytest.mark.parametrize("format", FORMATS)
def test_char_lm_step_carries_the_state_across_calls(format):
    # The exported step takes and returns the states: feeding a text in chunks is feeding it at once.
    model = small_model("char_lm", "lstm")
    data, description = build_portable(model, format)
    runner = open_runner(format, data)
    ids = portable_text.character_ids(held_out_text()[:90], portable_text.index_of(model.preprocessor.characters, 1))
    states = {state["input"]: np.zeros((1, state["size"]), "float32") for state in description["states"]}
    chunks = []
    for start in range(0, 90, 30):
        outputs = runner(token_ids=ids[None, start:start + 30], **states)
        chunks.append(outputs["logits"])
        states = {state["input"]: outputs[state["output"]] for state in description["states"]}
    np.testing.assert_allclose(np.concatenate(chunks, axis=1), keras_outputs(model, {"token_ids": ids[None]}),
                               atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("format", FORMATS)
def test_an_averaged_tagger_matches_keras(format):
    members = [small_model("pos_tagger", "bilstm-2-chars"), small_model("pos_tagger", "birnn-1-chars")]
    ensemble = average_of(members)
    data, description = build_portable(ensemble, format)
    assert_matches_keras("pos_tagger", ensemble, open_runner(format, data), description)


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("task", ZOO)
def test_zoo_models_match_keras(task, format):
    model = zoo_model(task)
    data, description = build_portable(model, format)
    assert_matches_keras(task, model, open_runner(format, data), description)


# -- preprocessing -----------------------------------------------------------------------------------

TRICKY_REVIEWS = [
    "ÉCOLE, Ünïcode: <BR/>great<br  />film<br\x0b/>!", "tabs\tand\x0bvertical\x0cfeeds\r\nend", "a\xa0b\u2003c\x1cd",
    "\"Quoted\" (parens); semi: colon? yes!", "", "   ", "<br /><br />", "naïve café déjà-vu",
]


def test_review_preprocessing_matches_tensorflow_on_real_reviews():
    from kerasrnn.data.imdb import load_imdb

    preprocessor = zoo_model("sentiment").preprocessor
    texts, _ = load_imdb(IMDB_TARBALL, splits=("test",))["test"]
    texts = list(texts[::25]) + TRICKY_REVIEWS  # 1,000 real test reviews, all of them up to 400 tokens
    word_index = portable_text.index_of(preprocessor.vocabulary[2:], 2)
    for start in range(0, len(texts), 100):
        chunk = texts[start:start + 100]
        expected = np.asarray(preprocessor(tf.constant(chunk)))
        np.testing.assert_array_equal(portable_text.review_ids(chunk, word_index, preprocessor.max_length), expected)


def test_tagger_preprocessing_matches_tensorflow_on_the_ewt_test_set():
    preprocessor = zoo_model("pos_tagger").preprocessor
    word_index = portable_text.index_of(preprocessor.vocabulary[2:], 2)
    character_index = portable_text.index_of(preprocessor.characters, 2)
    chosen = list(sentences()) + [("Ünïcode", "naïve", "[UNK]", "a" * 30, "日本語")]
    for start in range(0, len(chosen), 200):
        chunk = chosen[start:start + 200]
        width = max(len(words) for words in chunk)
        padded = tf.constant([list(words) + [""] * (width - len(words)) for words in chunk])
        expected = preprocessor(padded)
        got = portable_text.sentence_ids(chunk, word_index, character_index)
        np.testing.assert_array_equal(got["token_ids"], np.asarray(expected["token_ids"]))
        np.testing.assert_array_equal(got["char_ids"], np.asarray(expected["char_ids"]))


def test_philox_is_tensorflows_stateless_uniform():
    from kerasrnn.portable.philox import stateless_uniform

    for seed in ((7, 0), (-3, 41), (2**63 - 1, 2**40), (0, 0)):
        for size in (1, 66, 1001):
            expected = tf.random.stateless_uniform([size], seed=tf.constant(seed, tf.int64)).numpy()
            np.testing.assert_array_equal(stateless_uniform(size, seed), expected)


def test_character_ids_match_tensorflow_on_shakespeare():
    preprocessor = zoo_model("char_lm").preprocessor
    text = held_out_text() + "é日\x00"
    index = portable_text.index_of(preprocessor.characters, 1)
    np.testing.assert_array_equal(portable_text.character_ids(text, index), preprocessor.encode(text))


# -- the exported folders, the CLI, and a Python without TensorFlow ----------------------------------


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """The three small zoo models exported in both formats through `kerasrnn export`: {(task, format): folder}."""
    root = tmp_path_factory.mktemp("portable")
    folders = {}
    for task, name in ZOO.items():
        for format in FORMATS:
            base = root / f"{task}-{format}"
            assert main(["export", name, "--format", format, "--base-path", str(base)]) == 0
            folders[task, format] = base / "1"
    return folders


def test_export_writes_the_model_its_preprocessing_and_its_description(exports):
    for (task, format), folder in exports.items():
        names = sorted(os.listdir(folder))
        assert names == sorted(["model.json", "preprocessing.json", "model.onnx" if format == "onnx" else "model.tflite"])
        description = json.loads((folder / "model.json").read_text())
        assert description["task"] == task and description["format"] == format
        assert description["verified"]["max_abs_difference"] <= TOLERANCE
        preprocessing = json.loads((folder / "preprocessing.json").read_text())
        assert preprocessing["task"] == task
        assert not [name for name in os.listdir(folder.parent) if name.startswith("temp-")]


def test_onnx_uses_standard_recurrent_operators_and_litert_builtins_only(exports):
    import onnx
    from ai_edge_litert import schema_py_generated as schema

    for task in ZOO:
        graph = onnx.load(str(exports[task, "onnx"] / "model.onnx"))
        assert [opset.version for opset in graph.opset_import] == [17] and graph.ir_version == 8
        assert {node.domain for node in graph.graph.node} == {""}
        assert "RNN" in {node.op_type for node in graph.graph.node}
        flatbuffer = (exports[task, "litert"] / "model.tflite").read_bytes()
        model = schema.Model.GetRootAsModel(flatbuffer, 0)
        codes = [model.OperatorCodes(index) for index in range(model.OperatorCodesLength())]
        builtin = {max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) for code in codes}
        assert schema.BuiltinOperator.CUSTOM not in builtin and not any(code.CustomCode() for code in codes)
        assert schema.BuiltinOperator.WHILE in builtin


# A Python that has neither TensorFlow nor Keras: site-packages left out (-I -S), and only the portable
# runtime's packages (numpy, onnxruntime, ai-edge-litert) and kerasrnn linked into a folder on its path.
NO_TENSORFLOW_SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    for name in ("tensorflow", "keras"):
        try:
            __import__(name)
        except ImportError:
            pass
        else:
            raise SystemExit(f"{name} is importable here")
    from kerasrnn import portable
    requests, results = json.loads(sys.argv[2]), {}
    for key, (folder, method, argument) in requests.items():
        model = portable.load(folder)
        results[key] = model.generate(*argument) if method == "generate" else model.predict_text(argument)
    loaded = sorted(name for name in sys.modules if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
    print(json.dumps({"results": results, "loaded": loaded}))
    """
)


def bare_site(folder):
    """Link numpy, onnxruntime, ai-edge-litert and kerasrnn (nothing else) into `folder`."""
    import ai_edge_litert
    import onnxruntime

    import kerasrnn

    folder.mkdir()
    for module in (np, onnxruntime, ai_edge_litert, kerasrnn):
        source = os.path.dirname(module.__file__)
        os.symlink(source, folder / os.path.basename(source))
    libraries = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    if os.path.isdir(libraries):
        os.symlink(libraries, folder / "numpy.libs")
    return folder


def test_portable_models_run_without_tensorflow_and_answer_as_keras(exports, tmp_path):
    review = reviews()[0]
    sentence = " ".join(sentences()[3])
    prompt = "".join(character for character in held_out_text()[:40] if character in
                     zoo_model("char_lm").preprocessor.characters)
    requests = {}
    for format in FORMATS:
        requests[f"sentiment-{format}"] = (str(exports["sentiment", format]), "predict_text", review)
        requests[f"tagger-{format}"] = (str(exports["pos_tagger", format]), "predict_text", sentence)
        requests[f"greedy-{format}"] = (str(exports["char_lm", format]), "generate", [prompt, 120, 0.0])
        requests[f"seeded-{format}"] = (str(exports["char_lm", format].parent), "generate", [prompt, 50, 0.8, 7])
    finished = subprocess.run(
        [sys.executable, "-I", "-S", "-c", NO_TENSORFLOW_SCRIPT, str(bare_site(tmp_path / "site")),
         json.dumps(requests)], capture_output=True, text=True, timeout=300,
    )
    assert finished.returncode == 0, finished.stderr
    answer = json.loads(finished.stdout.splitlines()[-1])
    assert answer["loaded"] == []
    results = answer["results"]
    expected_review = zoo_model("sentiment").predict_text(review)
    expected_tags = [list(pair) for pair in zoo_model("pos_tagger").predict_text(sentence)]
    expected_text = zoo_model("char_lm").generate(prompt, length=120, temperature=0.0)
    expected_seeded = zoo_model("char_lm").generate(prompt, length=50, temperature=0.8, seed=7)
    for format in FORMATS:
        got = results[f"sentiment-{format}"]
        assert got["label"] == expected_review["label"]
        for label, probability in expected_review["probabilities"].items():
            assert abs(got["probabilities"][label] - probability) <= TOLERANCE
        assert results[f"tagger-{format}"] == expected_tags
        assert results[f"greedy-{format}"] == expected_text  # CharLanguageModel.generate at temperature 0
        # The same seed, the same text as Keras: TensorFlow's stateless random numbers, recomputed in numpy.
        assert results[f"seeded-{format}"] == expected_seeded


def one_line(status, capsys):
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if not line.startswith("INFO: ")]
    assert status == 2 and len(lines) == 1 and captured.out == "", captured.err
    return lines[0]


def test_an_unknown_format_is_one_line_and_writes_nothing(tmp_path, capsys):
    line = one_line(main(["export", ZOO["char_lm"], "--format", "tflite", "--base-path", str(tmp_path / "m")]), capsys)
    assert line == ("kerasrnn export: error: `--format` must be one of 'saved_model', 'onnx', 'litert'. "
                    "Received: --format='tflite'")
    assert os.listdir(tmp_path) == []


def test_an_existing_version_is_one_line_and_keeps_it(exports, capsys):
    folder = exports["char_lm", "onnx"]
    before = {name: (folder / name).stat().st_mtime_ns for name in os.listdir(folder)}
    status = main(["export", ZOO["char_lm"], "--format", "onnx", "--base-path", str(folder.parent), "--version", "1"])
    assert "Version 1 already exists" in one_line(status, capsys)
    assert {name: (folder / name).stat().st_mtime_ns for name in os.listdir(folder)} == before
    assert sorted(os.listdir(folder.parent)) == ["1"]


def unconvertible_model():
    preprocessor = zoo_model("sentiment").preprocessor
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(len(preprocessor.vocabulary), 4, mask_zero=True, name="embedding")(token_ids)
    x = keras.layers.Conv1D(4, 3, padding="same", name="convolution")(x)
    x = keras.layers.GRU(4, name="gru")(x)
    network = keras.Model(token_ids, keras.layers.Dense(2, activation="softmax", name="probabilities")(x))
    return SentimentClassifier(network, preprocessor)


@pytest.mark.parametrize("format", FORMATS)
def test_an_unconvertible_layer_is_named_in_one_line_and_nothing_is_written(format, tmp_path, capsys):
    model = unconvertible_model()
    with pytest.raises(UnsupportedLayerError, match=r"^Cannot export layer 'convolution' \(Conv1D\) to "):
        export_portable(model, tmp_path / "api", format)
    path = tmp_path / "conv.keras"
    model.save(path)
    line = one_line(main(["export", str(path), "--format", format, "--base-path", str(tmp_path / "cli")]), capsys)
    assert line.startswith("kerasrnn export: error: Cannot export layer 'convolution' (Conv1D) to ")
    assert "no portable conversion for this layer" in line
    assert sorted(os.listdir(tmp_path)) == ["conv.keras"]


def test_unsupported_settings_name_the_layer_and_the_reason():
    preprocessor = zoo_model("sentiment").preprocessor
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(len(preprocessor.vocabulary), 4, mask_zero=True)(token_ids)
    x = keras.layers.LSTM(4, activation="relu", name="relu_lstm")(x)
    network = keras.Model(token_ids, keras.layers.Dense(2, activation="softmax")(x))
    with pytest.raises(UnsupportedLayerError, match=r"'relu_lstm' \(LSTM\) to ONNX: activation 'relu'"):
        build_portable(SentimentClassifier(network, preprocessor), "onnx")


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    from kerasrnn.export.portable import export as export_module

    def refuse(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_module.json, "dump", refuse)
    with pytest.raises(OSError):
        export_portable(zoo_model("char_lm"), tmp_path / "lm", "onnx")
    assert os.listdir(tmp_path / "lm") == []


def test_a_read_only_target_is_one_line_and_writes_nothing(tmp_path, capsys):
    folder = tmp_path / "read-only"
    folder.mkdir()
    # This process may run as root, for whom chmod does not make a folder read-only: a read-only mount does.
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode:
        if os.geteuid() == 0:
            pytest.skip(f"cannot mount a read-only tmpfs here ({mounted.stderr.strip()})")
        folder.chmod(0o555)
    try:
        status = main(["export", ZOO["char_lm"], "--format", "onnx", "--base-path", str(folder / "lm")])
        line = one_line(status, capsys)
        assert str(folder / "lm") in line and ("Read-only file system" in line or "Permission denied" in line), line
        assert os.listdir(folder) == []
    finally:
        if not mounted.returncode:
            subprocess.run(["umount", "-l", str(folder)], check=False)
