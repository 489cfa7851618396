"""The zoo's download path against a loopback HTTP server: good, broken and missing files."""

import http.server
import json
import os
import threading

import numpy as np
import pytest
import tensorflow as tf

from conftest import EWT_DIR, SHARED_DATA
from kerasrnn import zoo
from kerasrnn.cli import main
from kerasrnn.training.trainer import train
from kerasrnn.zoo import index as zoo_index
from kerasrnn.zoo.download import DEFAULT_ZOO_DIR, fetch, sha256_of
from kerasrnn.zoo.index import read_index, write_index

SENTENCE = tf.constant([["The", "dog", "barks", "."]])


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    """A small tagger trained on real EWT sentences, as a zoo artifact."""
    run = tmp_path_factory.mktemp("run")
    train("pos_tagger", EWT_DIR, str(run), {"units": 8, "embedding_dim": 8}, max_examples=200, verbose=0)
    data = (run / "model.keras").read_bytes()
    entry = {
        "name": "pos-test-bilstm", "task": "pos_tagger", "cell": "lstm", "spec": {}, "metrics": {},
        "file": "pos-test-bilstm.keras", "sha256": sha256_of(run / "model.keras"), "size_bytes": len(data),
    }
    return entry, data


class Files(http.server.BaseHTTPRequestHandler):
    """Serves `self.server.files` (name -> bytes); `self.server.cut` drops the connection mid-file."""

    def do_GET(self):
        name = self.path.lstrip("/")
        if name not in self.server.files:
            self.send_error(404)
            return
        data = self.server.files[name]
        # Counted before the body goes out: the client may have read it all
        # (and the test asserted the count) before this thread runs again.
        self.server.requests += 1
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2] if self.server.cut else data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    httpd.files, httpd.cut, httpd.requests = {}, False, 0
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()


@pytest.fixture
def zoo_dir(tmp_path, monkeypatch, artifact):
    """An index with the test model, the cache under tmp_path, the origin unset."""
    entry, _ = artifact
    directory = tmp_path / "zoo"
    directory.mkdir()
    write_index([entry], str(directory / "index.json"))
    monkeypatch.setattr(zoo_index, "packaged_index_paths", lambda: [str(directory / "index.json")])
    monkeypatch.setenv("KERASRNN_ZOO_URL", str(directory))
    monkeypatch.setenv("KERASRNN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KERASRNN_OFFLINE", raising=False)
    return directory


def cache_listing(tmp_path):
    folder = tmp_path / "home" / "models"
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_good_download_loads_verified_then_works_offline(tmp_path, monkeypatch, server, zoo_dir, artifact):
    entry, data = artifact
    server.files[entry["file"]] = data
    monkeypatch.setenv("KERASRNN_ZOO_URL", server.url)
    model = zoo.load("pos-test-bilstm")
    assert model.predict(SENTENCE, verbose=0).shape[:2] == (1, 4)
    assert cache_listing(tmp_path) == [entry["file"]]
    server.shutdown()  # no network from here on
    monkeypatch.setenv("KERASRNN_OFFLINE", "1")
    again = zoo.load("pos-test-bilstm")
    np.testing.assert_allclose(again.predict(SENTENCE, verbose=0), model.predict(SENTENCE, verbose=0), atol=1e-6)
    assert server.requests == 1


@pytest.mark.parametrize("damage", ["truncated", "corrupted byte"])
def test_damaged_downloads_are_rejected_and_leave_a_clean_cache(tmp_path, monkeypatch, server, zoo_dir, artifact, damage):
    entry, data = artifact
    broken = data[: len(data) // 2] if damage == "truncated" else data[:100] + bytes([data[100] ^ 1]) + data[101:]
    server.files[entry["file"]] = broken
    monkeypatch.setenv("KERASRNN_ZOO_URL", server.url)
    with pytest.raises(ValueError, match="Checksum mismatch for zoo model 'pos-test-bilstm'.*file was deleted"):
        zoo.download("pos-test-bilstm")
    assert cache_listing(tmp_path) == []


def test_missing_file_and_dropped_connection_are_clear_errors(tmp_path, monkeypatch, server, zoo_dir, artifact):
    entry, data = artifact
    monkeypatch.setenv("KERASRNN_ZOO_URL", server.url)
    with pytest.raises(ValueError, match=r"Could not download zoo model 'pos-test-bilstm' from http://127\.0\.0\.1.*404"):
        zoo.download("pos-test-bilstm")
    server.files[entry["file"]], server.cut = data, True
    with pytest.raises(ValueError, match="Could not download zoo model"):
        zoo.download("pos-test-bilstm")
    assert cache_listing(tmp_path) == []


def test_a_damaged_cached_copy_is_fetched_again(tmp_path, monkeypatch, server, zoo_dir, artifact):
    entry, data = artifact
    server.files[entry["file"]] = data
    monkeypatch.setenv("KERASRNN_ZOO_URL", server.url)
    path = zoo.download("pos-test-bilstm")
    with open(path, "r+b") as file:
        file.write(b"garbage")
    assert zoo.download("pos-test-bilstm") == path and sha256_of(path) == entry["sha256"]
    assert server.requests == 2


def test_offline_without_a_cached_copy_says_what_to_do(monkeypatch, zoo_dir):
    monkeypatch.setenv("KERASRNN_OFFLINE", "1")
    with pytest.raises(ValueError, match="not in the cache .* KERASRNN_OFFLINE is set"):
        zoo.load("pos-test-bilstm")


def test_a_local_folder_works_as_the_origin(tmp_path, monkeypatch, zoo_dir, artifact):
    entry, data = artifact
    (zoo_dir / entry["file"]).write_bytes(data)
    monkeypatch.setenv("KERASRNN_ZOO_URL", str(zoo_dir))
    assert zoo.load("pos-test-bilstm").predict(SENTENCE, verbose=0).shape[:2] == (1, 4)


def test_unknown_names_and_a_broken_index_are_reported(zoo_dir, capsys):
    with pytest.raises(ValueError, match="Unknown zoo model 'nope'. Available: pos-test-bilstm"):
        zoo.info("nope")
    assert main(["zoo", "info", "nope"]) == 2
    assert "Available: pos-test-bilstm" in capsys.readouterr().err
    (zoo_dir / "index.json").write_text('{"models": [')
    with pytest.raises(ValueError, match="malformed JSON at line 1"):
        read_index()
    (zoo_dir / "index.json").write_text('{"models": [{"name": "x"}]}')
    with pytest.raises(ValueError, match="model #0 lacks task"):
        read_index()


def test_zoo_evaluate_prints_the_same_json_as_evaluate(monkeypatch, zoo_dir, artifact, capsys):
    entry, data = artifact
    (zoo_dir / entry["file"]).write_bytes(data)
    monkeypatch.setenv("KERASRNN_ZOO_URL", str(zoo_dir))
    test_file = os.path.join(EWT_DIR, "en_ewt-ud-test.conllu")
    assert main(["zoo", "evaluate", "pos-test-bilstm", "--data", test_file]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["task"] == "pos_tagger" and result["tokens"] == 25094
    assert main(["zoo", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["name"] == "pos-test-bilstm"


def test_the_published_index_is_generated_from_the_presets_and_matches_its_artifacts():
    """models/index.json (what a mirror serves) is exactly what the generator writes from the presets, and every
    preset's file exists in models/ with the recorded size and sha256."""
    from tools.zoo.models_index import generated_index_text

    assert open(os.path.join(DEFAULT_ZOO_DIR, "index.json"), encoding="utf-8").read() == generated_index_text()
    files = set()
    for entry in read_index():
        assert entry["training_recipe"]["task"] == entry["task"]  # the published recipe lives in its preset
        if "average_of" in entry:
            continue  # no file: assembled from its members' (tests/test_zoo_averages.py)
        path = os.path.join(DEFAULT_ZOO_DIR, entry["file"])
        assert os.path.getsize(path) == entry["size_bytes"]
        assert sha256_of(path) == entry["sha256"]
        files.add(entry["file"])
    # Nothing in models/ that no preset names (a retired artifact would still be served and shipped).
    assert {name for name in os.listdir(DEFAULT_ZOO_DIR) if name.endswith(".keras")} == files


@pytest.mark.slow
@pytest.mark.parametrize("task", ["sentiment", "pos_tagger", "char_lm"])
def test_zoo_evaluate_reproduces_the_index(task):
    """One model per task, evaluated afresh, matches its indexed score within 0.1 points."""
    entries = [entry for entry in read_index() if entry["task"] == task]
    if not entries:
        pytest.skip(f"no {task} model published yet")
    entry = entries[0]
    result = zoo.evaluate(entry["name"], os.path.join(SHARED_DATA, entry["training_recipe"]["eval_data"]))
    for key, value in entry["metrics"].items():
        if key.endswith("accuracy"):
            assert abs(result[key] - value) * 100 <= 0.1
        elif key.endswith("_per_char"):
            assert abs(result[key] - value) <= 0.001


def test_the_readme_zoo_table_is_generated_from_the_index():
    from tools.zoo.baselines import read_baselines
    from tools.zoo.table import END, START, markdown_table

    readme = open(os.path.join(DEFAULT_ZOO_DIR, "..", "README.md"), encoding="utf-8").read()
    assert f"{START}\n{markdown_table(read_index(), read_baselines())}\n{END}" in readme
    assert sorted(baseline["task"] for baseline in read_baselines()) == ["char_lm", "pos_tagger", "sentiment"]


def test_a_fresh_process_loads_every_published_model_with_custom_layers(tmp_path):
    """zoo.load must register kerasrnn's custom layers itself (nothing else imported first)."""
    import subprocess
    import sys

    names = [entry["name"] for entry in read_index()]
    if not names:
        pytest.skip("no model published yet")
    code = "import sys; from kerasrnn import zoo; [zoo.load(n) for n in sys.argv[1:]]; print('loaded')"
    env = {**os.environ, "KERASRNN_HOME": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True, env=env)
    assert result.returncode == 0 and "loaded" in result.stdout, result.stderr[-2000:]
