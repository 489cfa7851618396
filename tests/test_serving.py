"""`kerasrnn serve` end to end: real data → train → export → REST queries compared with Keras."""

import http.client
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

import tiny_exports as tiny
from kerasrnn.cli import build_parser
from kerasrnn.export import export_for_serving
from kerasrnn.serving.batching import SignatureBatcher

MAX_BODY = 200_000


class Server:
    """A `kerasrnn serve` subprocess on a free loopback port."""

    def __init__(self, config_file):
        command = [
            sys.executable, "-m", "kerasrnn.cli", "serve", "--model-config-file", str(config_file), "--port", "0",
            "--file-system-poll-wait-seconds", "0.3", "--enable-batching", "--max-body-bytes", str(MAX_BODY),
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        self.log = []
        threading.Thread(target=lambda: self.log.extend(self.process.stderr), daemon=True).start()
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in self.process.stdout], daemon=True).start()
        line = lines.get(timeout=90)
        self.port = int(line.split("http://127.0.0.1:")[1].split("/")[0])

    def request(self, method, path, body=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        status, payload = response.status, json.loads(response.read())
        connection.close()
        return status, payload

    def predict(self, model, body, version=None):
        path = f"/v1/models/{model}" + (f"/versions/{version}" if version else "") + ":predict"
        return self.request("POST", path, body)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=20)


@pytest.fixture(scope="module")
def export_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    for task in ("sentiment", "pos_tagger", "char_lm"):
        export_for_serving(tiny.trained_model(task), root / tiny.EXPORT_NAMES[task])
    return root


@pytest.fixture(scope="module")
def server(export_root):
    running = Server(export_root / "models.config")
    yield running
    running.stop()


def test_status_and_metadata(server):
    assert server.request("GET", "/v1/models/imdb") == (
        200,
        {"model_version_status": [
            {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        ]},
    )
    status, metadata = server.request("GET", "/v1/models/ewt/versions/1/metadata")
    assert status == 200 and metadata["model_spec"] == {"name": "ewt", "signature_name": "", "version": "1"}
    signatures = metadata["metadata"]["signature_def"]["signature_def"]
    tokens = signatures["serving_default"]["inputs"]["tokens"]
    assert tokens["dtype"] == "DT_STRING" and [d["size"] for d in tokens["tensor_shape"]["dim"]] == ["-1", "-1"]
    assert set(signatures["serving_default"]["outputs"]) == {"tags", "scores"}
    assert "pad every row" in metadata["metadata"]["kerasrnn"]["signatures"]["serving_default"]


def test_sentiment_row_and_columnar_match_keras(server):
    reviews = list(tiny.real_reviews())
    model = tiny.trained_model("sentiment")
    expected = model.predict(tf.constant(reviews), verbose=0)
    names = model.preprocessor.labels
    status, body = server.predict("imdb", {"instances": reviews})
    assert status == 200
    np.testing.assert_allclose([row["probabilities"] for row in body["predictions"]], expected, atol=1e-5)
    assert [row["label"] for row in body["predictions"]] == [names[i] for i in expected.argmax(-1)]
    status, body = server.predict("imdb", {"inputs": {"text": reviews[:2]}})
    assert status == 200
    np.testing.assert_allclose(body["outputs"]["probabilities"], expected[:2], atol=1e-5)
    status, body = server.predict("imdb", {"instances": [{"b64": "R3JlYXQgZmlsbSE="}]})  # "Great film!"
    np.testing.assert_allclose(
        body["predictions"][0]["probabilities"], model.predict(tf.constant(["Great film!"]), verbose=0)[0], atol=1e-5
    )


def test_tagger_over_http_matches_keras(server):
    sentences = tiny.padded(tiny.real_sentences())
    model = tiny.trained_model("pos_tagger")
    expected = np.array(model.preprocessor.labels)[model.predict(tf.constant(sentences), verbose=0).argmax(-1)]
    status, body = server.predict("ewt", {"instances": sentences})
    assert status == 200
    for row, words, tags in zip(body["predictions"], sentences, expected):
        assert row["tags"] == [tag if word else "" for word, tag in zip(words, tags)]
    status, body = server.predict(
        "ewt", {"signature_name": "tag_text", "instances": [" ".join(s) for s in tiny.real_sentences()]}
    )
    assert status == 200 and [row["tags"] for row in body["predictions"]] == [
        [tag if word else "" for word, tag in zip(words, tags)] for words, tags in zip(sentences, expected)
    ]


def test_generate_over_http_is_reproducible(server):
    lm = tiny.trained_model("char_lm")
    prompt = tiny.known_prompt(lm, tiny.real_lines()[0])[:15]
    body = {"signature_name": "generate",
            "instances": [{"prompt": prompt, "max_length": 40, "temperature": 0.8, "seed": 3}]}
    first, second = server.predict("shakespeare", body), server.predict("shakespeare", body)
    assert first[0] == 200 and first == second
    text = first[1]["predictions"][0]
    assert text.startswith(prompt) and len(text) == len(prompt) + 40
    status, body = server.predict("shakespeare", {"instances": [prompt]})
    logits = lm.predict(tf.constant([list(prompt)]), verbose=0)[0, -1]
    np.testing.assert_allclose(body["predictions"][0]["probabilities"], tf.nn.softmax(logits), atol=1e-5)


def test_concurrent_requests_all_get_their_own_answer(server):
    reviews = list(tiny.real_reviews())
    expected = tiny.trained_model("sentiment").predict(tf.constant(reviews), verbose=0)
    results = [None] * 24
    errors = []

    def ask(index):
        try:
            results[index] = server.predict("imdb", {"instances": [reviews[index % len(reviews)]]})
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(results))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    for index, (status, body) in enumerate(results):
        assert status == 200
        np.testing.assert_allclose(body["predictions"][0]["probabilities"], expected[index % len(reviews)], atol=1e-5)


BAD_REQUESTS = [
    ("imdb:predict", b'{"instances": ["unclosed"', 400, "JSON Parse error"),
    ("imdb:predict", b"\xff\xfe not utf-8", 400, "Invalid encoding"),
    ("imdb:predict", b"", 400, "The document is empty"),
    ("imdb:predict", b"[1, 2]", 400, "Is not object"),
    ("imdb:predict", {"signature_name": "serving_default"}, 400, "Missing 'inputs' or 'instances' key"),
    ("imdb:predict", {"instances": ["a"], "inputs": ["a"]}, 400, "only one of 'inputs' or 'instances'"),
    ("imdb:predict", {"instances": [{"review": "a"}]}, 400, "does not have named input: review"),
    ("imdb:predict", {"inputs": {"review": ["a"]}}, 400, "Missing named input: text"),
    ("imdb:predict", {"instances": [5]}, 400, "is not of expected type: string"),
    ("imdb:predict", {"instances": "a"}, 400, "to be an list/array"),
    ("imdb:predict", {"instances": []}, 400, "No values in 'instances' array"),
    ("imdb:predict", {"inputs": {"text": []}}, 400, "empty batch"),
    ("imdb:predict", {"instances": [["a", "b"]]}, 400, "must have shape [-1]"),
    ("imdb:predict", {"signature_name": 3, "instances": ["a"]}, 400, "'signature_name' key must be a string"),
    ("imdb:predict", {"signature_name": "generate", "instances": ["a"]}, 400, 'signature name: "generate" not found'),
    ("imdb:classify", {"examples": [{"text": "a"}]}, 400, "Expected classification signature"),
    ("ewt:predict", {"instances": [["The", "dog"], ["Hi"]]}, 400, "Expecting tensor size: 2 but got: 1"),
    ("shakespeare:predict", {"signature_name": "generate", "instances": [{"prompt": "a", "max_length": 1.5,
                                                                          "temperature": 1, "seed": 1}]},
     400, "is not of expected type: int32"),
    ("shakespeare:predict", {"signature_name": "generate", "instances": [{"prompt": "", "max_length": 3,
                                                                          "temperature": 1, "seed": 1}]},
     400, "prompt must not be empty"),
    ("shakespeare:predict", {"signature_name": "generate", "instances": [{"prompt": "a"}]},
     400, "keys must be equal to: max_length,prompt,seed,temperature"),
    ("nosuchmodel:predict", {"instances": ["a"]}, 404, "Servable not found for request: Latest(nosuchmodel)"),
    ("imdb/versions/9:predict", {"instances": ["a"]}, 404, "Servable not found for request: Specific(imdb, 9)"),
    ("imdb:predict", b'{"instances": ["' + b"x" * MAX_BODY + b'"]}', 413, "exceeds the server's limit"),
]


@pytest.mark.parametrize("path, body, code, message", BAD_REQUESTS, ids=[m for *_, m in BAD_REQUESTS])
def test_bad_requests_get_tf_serving_errors_and_the_server_keeps_serving(server, path, body, code, message):
    status, answer = server.request("POST", f"/v1/models/{path}", body)
    assert status == code and message in answer["error"], answer
    assert list(answer) == ["error"]
    assert server.predict("imdb", {"instances": ["Fine."]})[0] == 200


def test_unknown_model_and_version_status(server):
    assert server.request("GET", "/v1/models/nosuchmodel") == (
        404, {"error": "Could not find any versions of model nosuchmodel"}
    )
    assert server.request("GET", "/v1/models/imdb/versions/9") == (
        404, {"error": "Could not find version 9 of model imdb"}
    )


def _wait_for(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_new_corrupt_and_deleted_versions_while_serving(server, export_root):
    # Run last in this module: it changes what the server holds.
    model = tiny.trained_model("sentiment")
    reviews = list(tiny.real_reviews()[:2])
    version_1 = model.predict(tf.constant(reviews), verbose=0)
    dense = model.network.get_layer("probabilities")
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel, bias + np.array([2.0, -2.0], "float32")])  # a visibly different version 2
    try:
        version_2 = model.predict(tf.constant(reviews), verbose=0)
        export_for_serving(model, export_root / "imdb")
    finally:
        dense.set_weights([kernel, bias])
    assert _wait_for(lambda: server.request("GET", "/v1/models/imdb/versions/2")[0] == 200)
    _, latest = server.predict("imdb", {"instances": reviews})
    np.testing.assert_allclose([r["probabilities"] for r in latest["predictions"]], version_2, atol=1e-5)
    _, older = server.predict("imdb", {"instances": reviews}, version=1)
    np.testing.assert_allclose([r["probabilities"] for r in older["predictions"]], version_1, atol=1e-5)

    corrupt = export_root / "imdb" / "3"
    shutil.copytree(export_root / "imdb" / "2", corrupt)
    (corrupt / "saved_model.pb").write_bytes(b"not a SavedModel")
    assert _wait_for(lambda: any(
        entry["version"] == "3" and entry["state"] == "END"
        for entry in server.request("GET", "/v1/models/imdb")[1]["model_version_status"]
    ))
    assert server.predict("imdb", {"instances": reviews})[0] == 200
    shutil.rmtree(corrupt)
    shutil.rmtree(export_root / "imdb" / "2")
    assert _wait_for(lambda: server.request("GET", "/v1/models/imdb/versions/2")[0] == 404)
    _, body = server.predict("imdb", {"instances": reviews})
    np.testing.assert_allclose([r["probabilities"] for r in body["predictions"]], version_1, atol=1e-5)
    assert server.process.poll() is None
    log = "".join(server.log)
    assert "Failed to load servable {name: imdb version: 3}" in log
    assert "Unloading servable {name: imdb version: 2}: its folder is gone" in log


def test_batcher_merges_concurrent_calls_and_isolates_a_bad_one():
    def run(arrays):
        time.sleep(0.05)  # long enough for the other callers to queue up
        if (arrays["x"] < 0).any():
            raise ValueError("negative input")
        return {"double": arrays["x"] * 2}

    batcher = SignatureBatcher(run, max_batch_size=8, batch_timeout_s=0.1)
    results, errors = {}, {}

    def call(value):
        try:
            results[value] = batcher({"x": np.array([value])})["double"].tolist()
        except ValueError as error:
            errors[value] = str(error)

    threads = [threading.Thread(target=call, args=(value,)) for value in (1, 2, 3, -4, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    batcher.close()
    assert results == {1: [2], 2: [4], 3: [6], 5: [10]} and errors == {-4: "negative input"}
    assert max(batcher.batch_sizes) > 1


def test_serving_never_imports_the_model_code():
    # Layering: no serving module names a kerasrnn module outside serving/.
    import ast

    import kerasrnn.serving

    folder = os.path.dirname(kerasrnn.serving.__file__)
    outside = []
    for file_name in sorted(os.listdir(folder)):
        if file_name.endswith(".py"):
            tree = ast.parse(open(os.path.join(folder, file_name), encoding="utf-8").read())
            for node in ast.walk(tree):
                names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else (
                    [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
                outside += [f"{file_name}: {name}" for name in names
                            if name.split(".")[0] == "kerasrnn" and not name.startswith("kerasrnn.serving")]
    assert not outside, outside
    # At run time the server needs none of it: with every task module unimportable (only Keras'
    # class registration, which `import kerasrnn` hooks onto `import keras`, would want them),
    # it still starts and imports neither training nor export code.
    code = (
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.startswith(('kerasrnn.tasks', 'kerasrnn.layers')): raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import warnings; warnings.simplefilter('ignore')\n"
        "import kerasrnn.serving, kerasrnn.serving.serve\n"
        "bad = [m for m in sys.modules if m.startswith(('kerasrnn.training', 'kerasrnn.export'))]; assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def test_serve_binds_loopback_by_default_and_checks_its_options(capsys):
    from kerasrnn.cli import main

    assert build_parser().parse_args(["serve", "--model-base-path", "export/imdb"]).host == "127.0.0.1"
    assert main(["serve", "--model-base-path", "export/imdb", "--max-batch-size", "0"]) == 2
    assert "--max-batch-size must be a positive integer" in capsys.readouterr().err
    assert main(["serve", "--model-config-file", "/no/such/models.config"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_config_listing_one_name_twice_is_refused_as_tf_serving_refuses_it(tmp_path, capsys):
    from kerasrnn.cli import main

    config = tmp_path / "models.config"
    entries = "".join(f"config {{ name: 'imdb' base_path: '{tmp_path / folder}' model_platform: 'tensorflow' }}"
                      for folder in ("first", "second"))
    config.write_text(f"model_config_list {{ {entries} }}")
    assert main(["serve", "--model-config-file", str(config), "--port", "0"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.endswith("Illegal to list model imdb multiple times in config list") and "\n" not in error
