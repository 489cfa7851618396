"""export_for_serving: signatures over strings, a kerasrnn-free reload, atomic versions, config, warmup."""

import glob
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2

import tiny_exports as tiny
from kerasrnn.cli import main
from kerasrnn.export import export_for_serving, write_version

TASKS = ("sentiment", "pos_tagger", "char_lm")


@pytest.fixture(scope="module")
def export_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    for task in TASKS:
        export_for_serving(tiny.trained_model(task), root / tiny.EXPORT_NAMES[task])
    return root


# A separate interpreter that cannot import kerasrnn: the export must stand alone.
RELOAD_SCRIPT = textwrap.dedent(
    """
    import json, sys
    class NoKerasrnn:
        def find_spec(self, name, path=None, target=None):
            if name == "kerasrnn" or name.startswith("kerasrnn."):
                raise ImportError("the export must load without kerasrnn")
    sys.meta_path.insert(0, NoKerasrnn())
    import numpy as np, tensorflow as tf
    tf.config.set_visible_devices([], "GPU")
    root, requests = sys.argv[1], json.load(open(sys.argv[2]))
    results = {}
    for key, (model, signature, inputs) in requests.items():
        function = tf.saved_model.load(f"{root}/{model}/1").signatures[signature]
        specs = function.structured_input_signature[1]
        outputs = function(**{k: tf.constant(v, specs[k].dtype) for k, v in inputs.items()})
        results[key] = {
            k: (np.char.decode(v.numpy().astype(bytes), "utf-8").tolist() if v.dtype == tf.string
                else v.numpy().tolist())
            for k, v in outputs.items()
        }
    assert not any(name.startswith("kerasrnn") for name in sys.modules)
    json.dump(results, open(sys.argv[3], "w"))
    """
)


def test_export_loads_without_kerasrnn_and_matches_keras(export_root, tmp_path):
    reviews = list(tiny.real_reviews())
    sentences = tiny.padded(tiny.real_sentences())
    lines = list(tiny.real_lines())
    # Shorter than the vectorizer's length: the signature cuts their padding.
    short_reviews = [" ".join(reviews[0].split()[:5]), " ".join(reviews[1].split()[:12])]
    lm = tiny.trained_model("char_lm")
    prompt = tiny.known_prompt(lm, lines[0])[:20]
    requests = {
        "sentiment": ("imdb", "serving_default", {"text": reviews}),
        "short_reviews": ("imdb", "serving_default", {"text": short_reviews}),
        "tagger": ("ewt", "serving_default", {"tokens": sentences}),
        "tag_text": ("ewt", "tag_text", {"text": [" ".join(words) for words in tiny.real_sentences()]}),
        "next_char": ("shakespeare", "serving_default", {"text": lines}),
        "greedy": (
            "shakespeare",
            "generate",
            {"prompt": [prompt], "max_length": [25], "temperature": [0.0], "seed": [7]},
        ),
    }
    (tmp_path / "requests.json").write_text(json.dumps(requests))
    environment = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": ""}
    subprocess.run(
        [sys.executable, "-c", RELOAD_SCRIPT, str(export_root), str(tmp_path / "requests.json"),
         str(tmp_path / "out.json")],
        check=True, cwd=tmp_path, env=environment, capture_output=True,
    )
    out = json.loads((tmp_path / "out.json").read_text())

    sentiment = tiny.trained_model("sentiment")
    expected = sentiment.predict(tf.constant(reviews), verbose=0)
    np.testing.assert_allclose(out["sentiment"]["probabilities"], expected, atol=1e-5)
    names = sentiment.preprocessor.labels
    assert out["sentiment"]["label"] == [names[i] for i in expected.argmax(-1)]
    expected = sentiment.predict(tf.constant(short_reviews), verbose=0)
    np.testing.assert_allclose(out["short_reviews"]["probabilities"], expected, atol=1e-5)

    tagger = tiny.trained_model("pos_tagger")
    expected = tagger.predict(tf.constant(sentences), verbose=0)
    real = np.array(sentences) != ""
    np.testing.assert_allclose(np.array(out["tagger"]["scores"])[real], expected[real], atol=1e-5)
    tags = np.array(tagger.preprocessor.labels)[expected.argmax(-1)]
    assert np.array_equal(np.array(out["tagger"]["tags"]), np.where(real, tags, ""))
    assert out["tag_text"]["tokens"] == sentences and out["tag_text"]["tags"] == out["tagger"]["tags"]

    for line, probabilities in zip(lines, out["next_char"]["probabilities"]):
        logits = lm.predict(tf.constant([list(line)]), verbose=0)[0, -1]
        np.testing.assert_allclose(probabilities, tf.nn.softmax(logits).numpy(), atol=1e-5)
    assert out["next_char"]["characters"][0] == lm.preprocessor.labels

    # Greedy in-graph generation must follow the Keras model's own argmax at every step.
    text = out["greedy"]["text"][0]
    assert text.startswith(prompt) and len(text) == len(prompt) + 25
    logits = lm.predict(tf.constant([list(text)]), verbose=0)[0]
    characters = lm.preprocessor.labels
    for position in range(len(prompt), len(text)):
        assert text[position] == characters[1 + int(np.argmax(logits[position - 1, 1:]))]


def test_generate_is_seeded_and_independent_of_batching(export_root):
    generate = tf.saved_model.load(str(export_root / "shakespeare" / "1")).signatures["generate"]
    lm = tiny.trained_model("char_lm")
    prompts = [tiny.known_prompt(lm, line)[:12] for line in tiny.real_lines()[:3]]

    def run(indices, seeds, lengths=(30, 30, 30)):
        return generate(
            prompt=tf.constant([prompts[i] for i in indices]),
            max_length=tf.constant([lengths[i] for i in indices], tf.int32),
            temperature=tf.constant([1.0] * len(indices)),
            seed=tf.constant(seeds, tf.int64),
        )["text"].numpy().tolist()

    together = run([0, 1, 2], [1, 2, 3])
    assert [run([i], [i + 1])[0] for i in range(3)] == together
    assert run([0, 0], [1, 99]) != [together[0]] * 2
    short = run([0, 1, 2], [1, 2, 3], lengths=(0, 5, 30))
    assert short[0] == prompts[0].encode() and len(short[1].decode()) == len(prompts[1]) + 5


@pytest.mark.parametrize(
    "inputs, message",
    [
        ({"prompt": [""], "max_length": [5], "temperature": [1.0]}, "prompt must not be empty"),
        ({"prompt": ["\u2603"], "max_length": [5], "temperature": [1.0]}, "never saw"),
        ({"prompt": ["a"], "max_length": [-1], "temperature": [1.0]}, "max_length must be >= 0"),
        ({"prompt": ["a"], "max_length": [100000], "temperature": [1.0]}, "max_length must be <= 2000"),
        ({"prompt": ["a"], "max_length": [5], "temperature": [-0.5]}, "temperature must be >= 0"),
    ],
)
def test_generate_rejects_bad_arguments_in_graph(export_root, inputs, message):
    generate = tf.saved_model.load(str(export_root / "shakespeare" / "1")).signatures["generate"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        generate(
            prompt=tf.constant(inputs["prompt"]),
            max_length=tf.constant(inputs["max_length"], tf.int32),
            temperature=tf.constant(inputs["temperature"]),
            seed=tf.constant([1], tf.int64),
        )


def test_saved_model_cli_lists_signatures(export_root):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run(
        [cli, "show", "--all", "--dir", str(export_root / "shakespeare" / "1")],
        check=True, capture_output=True, text=True,
    ).stdout
    for expected in (
        "signature_def['serving_default']",
        "signature_def['generate']",
        "inputs['prompt'] tensor_info:\n        dtype: DT_STRING\n        shape: (-1)",
        "inputs['max_length'] tensor_info:\n        dtype: DT_INT32",
        "inputs['temperature'] tensor_info:\n        dtype: DT_FLOAT",
        "inputs['seed'] tensor_info:\n        dtype: DT_INT64",
        "outputs['text'] tensor_info:\n        dtype: DT_STRING",
        "outputs['probabilities'] tensor_info:\n        dtype: DT_FLOAT",
    ):
        assert expected in shown, expected
    assert "Cudnn" not in shown


def _graph_ops(saved_model_dir):
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((saved_model_dir / "saved_model.pb").read_bytes())
    graph = saved_model.meta_graphs[0].graph_def
    return {node.op for node in graph.node} | {
        node.op for function in graph.library.function for node in function.node_def
    }


def test_exports_have_no_kerasrnn_op(export_root):
    # On a CPU the tagger's masked BiLSTM would trace KerasrnnLstmMaskedForward, which TF Serving lacks.
    for task in TASKS:
        assert not [op for op in _graph_ops(export_root / tiny.EXPORT_NAMES[task] / "1") if op.startswith("Kerasrnn")]


def test_export_traced_as_on_a_gpu_has_no_cudnn_ops(tmp_path, monkeypatch):
    # Make Keras believe a GPU is present, so LSTM/GRU pick their cuDNN kernels when traced.
    import importlib

    from kerasrnn.layers import fast_rnn
    from kerasrnn.tasks.sentiment import SentimentClassifier, SentimentPreprocessor, build_sentiment_classifier

    tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
    monkeypatch.setattr(tf_rnn, "_is_gpu_available", lambda: True)
    # kerasrnn's FastGRU asks TensorFlow for a GPU itself (and then leaves the layer to Keras' cuDNN path).
    monkeypatch.setattr(fast_rnn, "_gpu_present", lambda: True)
    core = build_sentiment_classifier(vocab_size=6, units=4, embedding_dim=4, cell="gru", bidirectional=True)
    model = SentimentClassifier(core, SentimentPreprocessor(["", "[UNK]", "good", "bad", "film", "!"], max_length=5))
    traced = tf.function(lambda ids: core(ids)).get_concrete_function(tf.TensorSpec([None, None], tf.int32))
    graph = traced.graph.as_graph_def()
    traced_ops = {node.op for node in graph.node} | {n.op for f in graph.library.function for n in f.node_def}
    assert "CudnnRNNV3" in traced_ops, "control: with a GPU pretended, the plain trace should use cuDNN"
    exported = export_for_serving(model, tmp_path / "gpu_style")
    assert not [op for op in _graph_ops(tmp_path / "gpu_style" / "1") if "Cudnn" in op]
    monkeypatch.undo()
    served = tf.saved_model.load(exported.path).signatures["serving_default"]
    expected = model.predict(tf.constant(["good film !", "bad"]), verbose=0)
    got = served(text=tf.constant(["good film !", "bad"]))["probabilities"].numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_versions_increment_and_are_never_overwritten(tmp_path):
    model = tiny.trained_model("sentiment")
    base = tmp_path / "imdb"
    assert export_for_serving(model, base).version == 1
    assert export_for_serving(model, base).version == 2
    assert export_for_serving(model, base, version=7).version == 7
    assert export_for_serving(model, base).version == 8
    stamp = (base / "2" / "saved_model.pb").stat().st_mtime_ns
    with pytest.raises(ValueError, match="Version 2 already exists.*overwrite"):
        export_for_serving(model, base, version=2)
    assert (base / "2" / "saved_model.pb").stat().st_mtime_ns == stamp
    export_for_serving(model, base, version=2, overwrite=True)
    assert (base / "2" / "saved_model.pb").stat().st_mtime_ns != stamp
    assert sorted(os.listdir(base)) == ["1", "2", "7", "8"]


def test_a_failed_export_leaves_nothing_behind(tmp_path, monkeypatch):
    from kerasrnn.export import export_for_serving as module_function

    module = sys.modules[module_function.__module__]
    base = tmp_path / "imdb"
    export_for_serving(tiny.trained_model("sentiment"), base)

    def fail_halfway(folder, *args):
        assert os.path.isfile(os.path.join(folder, "saved_model.pb"))  # really half-written
        raise OSError("disk full")

    monkeypatch.setattr(module, "write_warmup_requests", fail_halfway)
    with pytest.raises(OSError, match="disk full"):
        export_for_serving(tiny.trained_model("sentiment"), base)
    assert os.listdir(base) == ["1"]


def test_write_version_refuses_bad_versions(tmp_path):
    for bad in (0, -3, "2", 2.0, True):
        with pytest.raises(ValueError, match="`version` must be a positive integer"):
            write_version(tmp_path, os.makedirs, version=bad)
    assert os.listdir(tmp_path) == []


def test_export_refuses_what_is_not_a_kerasrnn_task_model(tmp_path):
    inputs = keras.Input((3,))
    with pytest.raises(ValueError, match="Expected a kerasrnn task model"):
        export_for_serving(keras.Model(inputs, keras.layers.Dense(2)(inputs)), tmp_path / "x")
    with pytest.raises(ValueError, match="`base_path` must be a folder path"):
        export_for_serving(tiny.trained_model("sentiment"), "  ")
    assert os.listdir(tmp_path) == []


def test_models_config_lists_every_exported_model(export_root):
    config = model_server_config_pb2.ModelServerConfig()
    text_format.Parse((export_root / "models.config").read_text(), config)
    entries = {entry.name: entry for entry in config.model_config_list.config}
    assert sorted(entries) == ["ewt", "imdb", "shakespeare"]
    for name, entry in entries.items():
        assert entry.base_path == str(export_root / name) and entry.model_platform == "tensorflow"
        assert entry.model_version_policy.latest.num_versions == 2


def test_warmup_requests_replay_against_the_export(export_root):
    for task in TASKS:
        folder = export_root / tiny.EXPORT_NAMES[task] / "1"
        loaded = tf.saved_model.load(str(folder))
        records = list(tf.data.TFRecordDataset(str(folder / "assets.extra" / "tf_serving_warmup_requests")))
        logs = [prediction_log_pb2.PredictionLog.FromString(record.numpy()) for record in records]
        assert sorted(log.predict_log.request.model_spec.signature_name for log in logs) == sorted(loaded.signatures)
        for log in logs:
            request = log.predict_log.request
            assert request.model_spec.name == tiny.EXPORT_NAMES[task]
            inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
            outputs = loaded.signatures[request.model_spec.signature_name](**inputs)
            assert all(value.shape[0] == 1 or value.shape[0] == 2 for value in outputs.values())


def test_public_api_exposes_export_for_serving():
    import kerasrnn

    assert kerasrnn.export_for_serving is export_for_serving


def test_cli_export_writes_the_next_version(tmp_path, capsys):
    base = tmp_path / "export" / "ewt"
    assert main(["export", tiny.trained_dir("pos_tagger"), "--base-path", str(base)]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == 1
    assert main(["export", tiny.trained_dir("pos_tagger"), "--base-path", str(base), "--version", "1"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert glob.glob(str(base / "*")) == [str(base / "1")]
    assert main(["export", str(tmp_path / "nowhere"), "--base-path", str(base)]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_stepper_refuses_a_model_it_cannot_unroll():
    from kerasrnn.tasks.char_lm.sampler import CharStepper

    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(5, 3)(ids)
    x = keras.layers.Conv1D(4, 2, padding="causal")(x)
    with pytest.raises(ValueError, match="Cannot step layer"):
        CharStepper(keras.Model(ids, keras.layers.Dense(5)(x)))


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_exported_char_lm_with_fast_layers_has_no_fused_op(tmp_path, cell):
    # TF Serving loads SavedModels as they are: kerasrnn's custom ops must never be in one.
    from kerasrnn.kernels import load_lstm_ops, load_onednn_rnn_ops
    from kerasrnn.layers import FastGRU, FastLSTM, FastSimpleRNN, with_fast_rnn
    from kerasrnn.tasks.char_lm import CharLanguageModel, CharLanguageModelPreprocessor, build_char_lm

    text = "ROMEO: what light through yonder window breaks? "
    preprocessor = CharLanguageModelPreprocessor(sorted(set(text)), sequence_length=20)
    # FastLSTM, FastGRU or FastSimpleRNN layers (the builders' own; with_fast_rnn keeps them).
    network = with_fast_rnn(build_char_lm(len(preprocessor.labels), units=8, num_layers=2, embedding_dim=4, cell=cell))
    model = CharLanguageModel(network, preprocessor)
    if (load_lstm_ops() if cell == "lstm" else load_onednn_rnn_ops()) is not None:
        traced = tf.function(lambda ids: network(ids)).get_concrete_function(tf.TensorSpec([None, None], tf.int32))
        graph = traced.graph.as_graph_def()
        traced_ops = {node.op for node in graph.node} | {n.op for f in graph.library.function for n in f.node_def}
        # KerasrnnOnednnLstmForward where oneDNN is installed, else KerasrnnLstmForward; GRU and SimpleRNN
        # KerasrnnOnednnRnnForward.
        assert {"KerasrnnLstmForward", "KerasrnnOnednnLstmForward", "KerasrnnOnednnRnnForward"} & traced_ops, \
            "control: a plain CPU trace of the fast layers uses a fused op"
    exported = export_for_serving(model, tmp_path / "charlm")
    assert not [op for op in _graph_ops(tmp_path / "charlm" / "1") if op.startswith("Kerasrnn")]
    # The switch is restored after the export.
    assert all(layer.use_fused_kernel for layer in network.layers if isinstance(layer, (FastLSTM, FastGRU, FastSimpleRNN)))
    served = tf.saved_model.load(exported.path).signatures["serving_default"]
    probabilities = served(text=tf.constant(["ROMEO: wha"]))["probabilities"].numpy()[0]
    logits = model.predict(tf.constant([list("ROMEO: wha")]), verbose=0)[0, -1]
    np.testing.assert_allclose(probabilities, tf.nn.softmax(logits).numpy(), atol=1e-5)


def test_exported_tagger_with_a_character_encoder_has_no_fused_op(tmp_path):
    # The character encoder keeps its FastLSTMs inside a custom layer: the export must find and switch them off too.
    from kerasrnn.keras_adapter import nested_layers
    from kerasrnn.layers import FastLSTM
    from kerasrnn.tasks.pos_tagger import PosTagger, PosTaggerPreprocessor, build_pos_tagger

    sentences = tiny.real_sentences()
    words = sorted({word for sentence in sentences for word in sentence})
    characters = sorted({character for word in words for character in word})
    preprocessor = PosTaggerPreprocessor(["", "[UNK]", *words], ["NOUN", "VERB", "X"], characters)
    network = build_pos_tagger(
        len(words) + 2, 3, cell="lstm", units=4, embedding_dim=4, char_vocab_size=len(characters) + 2,
        char_embedding_dim=4, char_units=3,
    )
    encoder_lstms = [layer for layer in nested_layers(network.get_layer("spelling")) if isinstance(layer, FastLSTM)]
    assert len(encoder_lstms) == 2
    export_for_serving(PosTagger(network, preprocessor), tmp_path / "tagger")
    assert not [op for op in _graph_ops(tmp_path / "tagger" / "1") if op.startswith("Kerasrnn")]
    assert all(layer.use_fused_kernel for layer in encoder_lstms)
