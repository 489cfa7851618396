"""Real exports under stress: request budgets against memory, and the version lifecycle.

* the amplification requests of issue #12 (one long row padding hundreds of
  short ones, half a million empty rows, a huge `generate`) are refused fast
  and the server's memory stays put;
* a version deleted and republished under the same number is served by the
  new model, with and without batching, and requests in flight finish;
* a half-copied version is loaded once its copy completes;
* folder names made of non-ASCII digits are ignored;
* warmup records are replayed before a version is AVAILABLE.
"""

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import psutil
import pytest
import tensorflow as tf

import tiny_exports as tiny
from kerasrnn.export import export_for_serving
from kerasrnn.serving import ModelManager, VersionPolicy, ServingError
from kerasrnn.serving.servable import Servable


class ServeProcess:
    """`kerasrnn serve ARGS` in a subprocess; `ports` maps "rest"/"grpc" to the ports it printed."""

    def __init__(self, *args):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kerasrnn.cli", "serve", *map(str, args)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        self.log = []
        threading.Thread(target=lambda: self.log.extend(self.process.stderr), daemon=True).start()
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in self.process.stdout], daemon=True).start()
        self.ports = {}
        expected = 2 if "--grpc-port" in args or any(str(a).startswith("--rest_api_port") for a in args) else 1
        while len(self.ports) < expected:
            line = lines.get(timeout=120)
            if "REST API on http://" in line:
                self.ports["rest"] = int(line.split("http://")[1].split(":")[1].split("/")[0])
            elif "gRPC API on " in line:
                self.ports["grpc"] = int(line.split("gRPC API on ")[1].split(":")[1].split()[0])

    @property
    def rss_mb(self):
        return psutil.Process(self.process.pid).memory_info().rss / 2**20

    def post(self, path, body, timeout=60):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.ports['rest']}{path}", data=data, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def get(self, path, timeout=60):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports['rest']}{path}", timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def export_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    for task in ("sentiment", "pos_tagger", "char_lm"):
        export_for_serving(tiny.trained_model(task), root / tiny.EXPORT_NAMES[task])
    return root


@pytest.fixture(scope="module")
def server(export_root):
    running = ServeProcess("--model-config-file", export_root / "models.config", "--port", 0,
                           "--file-system-poll-wait-seconds", 0, "--enable-batching")
    yield running
    running.stop()


def _generate(rows, max_length):
    return {"signature_name": "generate",
            "instances": [{"prompt": "T", "max_length": max_length, "temperature": 1.0, "seed": 1}] * rows}


AMPLIFICATIONS = [
    ("shakespeare", {"instances": ["e" * 10_000] + ["a"] * 499}, "--max-request-cells"),  # known characters
    ("ewt", {"signature_name": "tag_text", "instances": [" ".join(["word"] * 1000)] + [""] * 299},
     "--max-request-cells"),
    ("imdb", {"instances": [""] * 500_000}, "--max-request-rows"),
    ("shakespeare", _generate(1024, 2000), "--max-generate-steps"),
]


@pytest.mark.parametrize("model, body, limit", AMPLIFICATIONS, ids=["long-row", "tag-text", "empty-rows", "generate"])
def test_amplification_requests_are_refused_fast_with_bounded_memory(server, model, body, limit):
    assert server.post("/v1/models/imdb:predict", {"instances": ["Fine."]})[0] == 200
    before = server.rss_mb
    started = time.monotonic()
    status, answer = server.post(f"/v1/models/{model}:predict", body)
    elapsed = time.monotonic() - started
    assert status == 400 and limit in answer["error"], answer
    assert elapsed < 3.0, f"refusing took {elapsed:.1f} s"
    assert server.rss_mb - before < 150, f"RSS grew from {before:.0f} to {server.rss_mb:.0f} MB"
    assert server.post("/v1/models/imdb:predict", {"instances": ["Fine."]})[0] == 200


def test_huge_numbers_are_400_not_500(server):
    body = _generate(1, 5)
    body["instances"][0]["temperature"] = 10**400
    status, answer = server.post("/v1/models/shakespeare:predict", body)
    assert status == 400 and "without loss of precision" in answer["error"], answer
    body["instances"][0]["temperature"] = 1.0
    body["instances"][0]["seed"] = 10**30
    status, answer = server.post("/v1/models/shakespeare:predict", body)
    assert status == 400 and "is not of expected type: int64" in answer["error"], answer


def test_requests_within_the_budget_are_answered(server):
    status, body = server.post("/v1/models/shakespeare:predict", {"instances": ["To be, or not"] * 64})
    assert status == 200 and len(body["predictions"]) == 64
    status, body = server.post("/v1/models/shakespeare:predict", _generate(4, 50))
    assert status == 200 and all(len(text) == 51 for text in body["predictions"])


def _values(manager, reviews, version=None):
    servable = manager.servable("imdb", version)
    arrays = {"text": np.array([text.encode() for text in reviews], object)}
    return manager.predict(servable, "", arrays)["probabilities"]


def _shifted_model():
    """The tiny sentiment model with its output bias moved: a visibly different model."""
    model = tiny.trained_model("sentiment")
    dense = model.network.get_layer("probabilities")
    kernel, bias = dense.get_weights()
    return model, dense, kernel, bias


@pytest.mark.parametrize("batching", [None, {"max_batch_size": 8, "batch_timeout_s": 0.002}], ids=["plain", "batching"])
def test_republished_version_is_served_by_the_new_model(tmp_path, batching):
    model, dense, kernel, bias = _shifted_model()
    reviews = list(tiny.real_reviews()[:2])
    base = tmp_path / "imdb"
    export_for_serving(model, base, 1)
    old = model.predict(tf.constant(reviews), verbose=0)
    manager = ModelManager([("imdb", str(base), VersionPolicy())], batching=batching)
    manager.refresh()
    np.testing.assert_allclose(_values(manager, reviews), old, atol=1e-5)
    dense.set_weights([kernel, bias + np.array([2.0, -2.0], "float32")])
    try:
        new = model.predict(tf.constant(reviews), verbose=0)
        shutil.rmtree(base / "1")
        export_for_serving(model, base, 1)  # same number, different model, no poll in between
    finally:
        dense.set_weights([kernel, bias])
    assert np.abs(new - old).max() > 0.05

    answers, errors = [], []
    stop = threading.Event()

    def hammer():  # requests in flight while the version is swapped
        while not stop.is_set():
            try:
                answers.append(_values(manager, reviews))
            except ServingError as error:
                errors.append(error)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    manager.refresh()
    time.sleep(0.3)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a request hung during the swap"
    assert all(np.allclose(a, old, atol=1e-5) or np.allclose(a, new, atol=1e-5) for a in answers)
    assert all(error.http_status < 500 for error in errors)
    assert manager.status("imdb") ["model_version_status"][0]["state"] == "AVAILABLE"
    np.testing.assert_allclose(_values(manager, reviews), new, atol=1e-5)
    manager.stop()


def test_half_copied_version_is_loaded_once_complete(tmp_path):
    model = tiny.trained_model("sentiment")
    source = tmp_path / "source"
    export_for_serving(model, source, 1)
    base = tmp_path / "imdb"
    partial = base / "1"
    shutil.copytree(source / "1", partial, ignore=lambda folder, names: names if folder.endswith("variables") else [])
    assert (partial / "variables").is_dir() and not os.listdir(partial / "variables")
    manager = ModelManager([("imdb", str(base), VersionPolicy())])
    manager.refresh()
    assert manager.status("imdb")["model_version_status"][0]["state"] == "END"
    manager.refresh()  # unchanged: not retried (no log storm)
    for name in os.listdir(source / "1" / "variables"):
        shutil.copy2(source / "1" / "variables" / name, partial / "variables" / name)
    manager.refresh()
    assert manager.status("imdb")["model_version_status"][0]["state"] == "AVAILABLE"
    reviews = list(tiny.real_reviews()[:2])
    np.testing.assert_allclose(_values(manager, reviews), model.predict(tf.constant(reviews), verbose=0), atol=1e-5)
    manager.stop()


def test_non_ascii_digit_folder_names_are_ignored(tmp_path, caplog):
    model = tiny.trained_model("sentiment")
    export_for_serving(model, tmp_path / "imdb", 1)
    export_for_serving(model, tmp_path / "other", 1)
    for odd in ("²", "٣", "1" * 30):  # superscript two, Arabic-Indic three, beyond int64
        shutil.copytree(tmp_path / "imdb" / "1", tmp_path / "imdb" / odd)
    manager = ModelManager([("imdb", str(tmp_path / "imdb"), VersionPolicy()),
                            ("other", str(tmp_path / "other"), VersionPolicy())])
    manager.refresh()
    shutil.copytree(tmp_path / "other" / "1", tmp_path / "other" / "2")
    manager.refresh()  # polling goes on for every model
    assert [e["version"] for e in manager.status("imdb")["model_version_status"]] == ["1"]
    assert manager.servable("other").version == 2
    manager.stop()


def test_warmup_is_replayed_before_the_version_is_available(tmp_path, monkeypatch):
    export_for_serving(tiny.trained_model("char_lm"), tmp_path / "shakespeare", 1)
    manager = ModelManager([("shakespeare", str(tmp_path / "shakespeare"), VersionPolicy())])
    seen = []
    original = Servable.warm_up

    def watched(servable):
        with pytest.raises(ServingError) as not_yet:
            manager.status("shakespeare")
        seen.append(not_yet.value.http_status)
        with pytest.raises(ServingError):
            manager.servable("shakespeare")
        replayed = original(servable)
        seen.append(replayed)
        return replayed

    monkeypatch.setattr(Servable, "warm_up", watched)
    manager.refresh()
    assert seen == [404, 2]  # both signatures (serving_default, generate) replayed before it is listed
    assert manager.status("shakespeare")["model_version_status"][0]["state"] == "AVAILABLE"
    manager.stop()


def test_a_failing_warmup_record_fails_the_load(tmp_path):
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    export_for_serving(tiny.trained_model("sentiment"), tmp_path / "imdb", 1)
    request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(name="imdb", signature_name="nope"))
    record = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
    with tf.io.TFRecordWriter(str(tmp_path / "imdb" / "1" / "assets.extra" / "tf_serving_warmup_requests")) as writer:
        writer.write(record.SerializeToString())
    manager = ModelManager([("imdb", str(tmp_path / "imdb"), VersionPolicy())])
    manager.refresh()
    [entry] = manager.status("imdb")["model_version_status"]
    assert entry["state"] == "END" and "nope" in entry["status"]["error_message"]
    manager.stop()
