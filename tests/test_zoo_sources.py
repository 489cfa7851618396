"""Every kind of model source, end to end on loopback: zoo names, folders, URLs and hf://.

The artifact is the real published `models/charlm-shakespeare-rnn.keras`
(the smallest one), copied at test time; checksums are computed from the
copies, never written down here. Servers listen on 127.0.0.1 only, and each
test is bounded by an alarm.
"""

import functools
import hashlib
import importlib
import http.server
import os
import shutil
import signal
import subprocess
import sys
import threading
import urllib.parse
import zipfile

import keras
import numpy as np
import pytest

from kerasrnn import zoo
from kerasrnn.tasks import CharLanguageModel, SentimentClassifier
from kerasrnn.zoo.download import DEFAULT_ZOO_DIR, sha256_of
from kerasrnn.zoo.index import find_entry, read_index, write_index
from kerasrnn.zoo.presets import model_file

NAME = "charlm-shakespeare-rnn"
FILE = f"{NAME}.keras"
PROMPT = ["To be, or not to be"]
# The module, not `kerasrnn.zoo.download` the function that `kerasrnn.zoo` exports under the same name.
zoo_download = importlib.import_module("kerasrnn.zoo.download")
TEST_SECONDS = 180


@pytest.fixture(autouse=True)
def bounded(monkeypatch, tmp_path):
    """No test may hang: an alarm turns a stuck download into a failure. Loopback never goes through a proxy."""

    def expire(signum, frame):
        raise TimeoutError(f"test took more than {TEST_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TEST_SECONDS)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("KERASRNN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KERASRNN_OFFLINE", raising=False)
    monkeypatch.delenv("KERASRNN_ZOO_URL", raising=False)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    """A private copy of the published artifact (models/ may be rewritten meanwhile) and its index entry."""
    source = os.path.join(DEFAULT_ZOO_DIR, FILE)
    if not os.path.isfile(source):
        pytest.fail(f"{source} is missing: the published zoo must hold {FILE}.")
    path = tmp_path_factory.mktemp("artifact") / FILE
    shutil.copyfile(source, path)
    entry = dict(find_entry(NAME))
    # The entry describes the copy (models/ may be mid-regeneration when this runs).
    entry.update(sha256=sha256_of(path), size_bytes=os.path.getsize(path))
    return path, entry


@pytest.fixture(scope="module")
def reference(artifact):
    """The predictions of the artifact loaded straight from its file."""
    return zoo.load(str(artifact[0])).predict(PROMPT, verbose=0)


def publish_folder(folder, artifact):
    """A single-model zoo folder as `python -m tools.zoo publish` lays it out: NAME.keras beside index.json."""
    path, entry = artifact
    os.makedirs(folder, exist_ok=True)
    shutil.copyfile(path, os.path.join(folder, FILE))
    write_index([entry], os.path.join(folder, "index.json"))
    return folder


class StaticFiles(http.server.SimpleHTTPRequestHandler):
    """A plain static web server (what a mirror is); it remembers the paths it was asked for."""

    timeout = 30

    def log_message(self, format, *args):
        self.server.requests.append(self.path)


@pytest.fixture
def static_server(tmp_path):
    """Serves tmp_path/www as it is on a free loopback port."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(StaticFiles, directory=str(root)))
    httpd.requests, httpd.root = [], root
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def cache_listing(tmp_path):
    folder = tmp_path / "home" / "models"
    return sorted(os.listdir(folder)) if folder.exists() else []


def assert_same_model(model, reference):
    assert isinstance(model, CharLanguageModel)
    np.testing.assert_allclose(model.predict(PROMPT, verbose=0), reference, atol=1e-6)


# -- a zoo name through KERASRNN_ZOO_URL ---------------------------------------


def test_a_zoo_name_loads_from_an_http_mirror_then_offline_from_the_cache(
    tmp_path, monkeypatch, static_server, artifact, reference
):
    path, entry = artifact
    packaged = find_entry(NAME)
    assert packaged["sha256"] == entry["sha256"], (
        f"the packaged index (presets.json) and models/{FILE} disagree: regenerate the index"
    )
    mirror = static_server.root / "mirror"
    mirror.mkdir()
    shutil.copyfile(path, mirror / FILE)
    monkeypatch.setenv("KERASRNN_ZOO_URL", f"{static_server.url}/mirror/")
    assert_same_model(zoo.load(NAME), reference)
    assert cache_listing(tmp_path) == [FILE]
    assert static_server.requests == [f"/mirror/{FILE}"]
    static_server.shutdown()  # no network from here on
    monkeypatch.setenv("KERASRNN_OFFLINE", "1")
    assert_same_model(CharLanguageModel.from_preset(NAME), reference)
    assert static_server.requests == [f"/mirror/{FILE}"]


def test_a_corrupted_mirror_file_is_a_checksum_error_and_leaves_nothing_in_the_cache(
    tmp_path, monkeypatch, static_server, artifact
):
    data = bytearray(artifact[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    (static_server.root / FILE).write_bytes(bytes(data))
    monkeypatch.setenv("KERASRNN_ZOO_URL", static_server.url)
    with pytest.raises(ValueError, match=rf"Checksum mismatch for zoo model '{NAME}'.*sha256"):
        zoo.load(NAME)
    assert cache_listing(tmp_path) == []


# -- folders, files and URLs ----------------------------------------------------


def test_a_published_folder_served_as_is_loads_from_its_url(tmp_path, static_server, artifact, reference, capsys):
    publish_folder(static_server.root / "zoo", artifact)
    for url in (f"{static_server.url}/zoo", f"{static_server.url}/zoo/"):
        assert_same_model(zoo.load(url), reference)
    assert cache_listing(tmp_path) == [FILE]
    # The index and the artifact came over HTTP; the second load used the cache for the artifact.
    assert static_server.requests.count("/zoo/index.json") == 2
    assert static_server.requests.count(f"/zoo/{FILE}") == 1
    # Downloads keep stdout clean (`kerasrnn zoo evaluate` prints one JSON line there).
    assert capsys.readouterr().out == ""


def test_a_keras_file_url_loads_and_keeps_stdout_clean(tmp_path, static_server, artifact, reference, capsys):
    shutil.copyfile(artifact[0], static_server.root / FILE)
    assert_same_model(zoo.load(f"{static_server.url}/{FILE}"), reference)
    assert static_server.requests == [f"/{FILE}"]
    assert capsys.readouterr().out == ""


def test_keras_file_urls_with_the_same_file_name_are_cached_apart(tmp_path, static_server, artifact):
    """Each URL has its own cache folder under KERASRNN_HOME (not a shared /tmp/.keras)."""
    another = tmp_path / "another.keras"  # a complete .keras archive of another content
    with zipfile.ZipFile(another, "w") as archive:
        archive.writestr("config.json", "{}")
    for folder, data in (("a", artifact[0].read_bytes()), ("b", another.read_bytes())):
        (static_server.root / folder).mkdir()
        (static_server.root / folder / FILE).write_bytes(data)
    first, second = (model_file(f"{static_server.url}/{folder}/{FILE}") for folder in ("a", "b"))
    assert first != second
    assert first.startswith(str(tmp_path / "home")) and second.startswith(str(tmp_path / "home"))
    assert sha256_of(first) == artifact[1]["sha256"] and open(second, "rb").read() == another.read_bytes()


class CutShort(http.server.BaseHTTPRequestHandler):
    """A mirror that sends the first half of the file with no Content-Length, then closes (issue 28 point 7)."""

    protocol_version = "HTTP/1.0"  # the body ends when the connection closes

    def do_GET(self):
        data = self.server.data
        self.server.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        self.wfile.write(data if self.server.complete else data[: len(data) // 2])

    def log_message(self, format, *args):
        pass


def test_a_keras_url_cut_short_is_refused_never_cached_and_fetched_again(tmp_path, artifact, reference):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CutShort)
    httpd.data, httpd.complete, httpd.requests = artifact[0].read_bytes(), False, []
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/{FILE}"
    try:
        with pytest.raises(ValueError, match=f"the {len(httpd.data) // 2} bytes received are not a complete .keras"):
            model_file(url)
        cached = [files for _, _, files in os.walk(tmp_path / "home") if files]
        assert cached == [], cached  # nothing kept, not even the partial file
        httpd.complete = True  # the mirror recovers: the next call downloads again and loads
        assert_same_model(zoo.load(url), reference)
        assert len(httpd.requests) == 2
        path = model_file(url)  # cached now: no third request
        assert len(httpd.requests) == 2
        # A cached copy damaged later is fetched again, not reported "not loadable" for ever.
        with open(path, "r+b") as file:
            file.truncate(os.path.getsize(path) // 3)
        assert_same_model(zoo.load(url), reference)
        assert len(httpd.requests) == 3
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_local_published_folder_its_file_url_and_a_keras_path_load(tmp_path, artifact, reference):
    folder = publish_folder(str(tmp_path / "zoo"), artifact)
    assert_same_model(zoo.load(folder), reference)
    assert_same_model(zoo.load("file://" + urllib.parse.quote(folder)), reference)
    assert_same_model(zoo.load(os.path.join(folder, FILE)), reference)
    assert_same_model(CharLanguageModel.from_preset(str(artifact[0])), reference)


def test_a_folder_with_several_models_names_them(tmp_path, artifact):
    other = dict(artifact[1], name="charlm-other", file="charlm-other.keras")
    folder = tmp_path / "zoo"
    folder.mkdir()
    write_index([artifact[1], other], str(folder / "index.json"))
    with pytest.raises(ValueError, match=rf"2 models \(charlm-other, {NAME}\).*KERASRNN_ZOO_URL"):
        zoo.load(str(folder))


# -- hf://OWNER/REPO through huggingface_hub ---------------------------------------

COMMIT = hashlib.sha1(b"kerasrnn test repository").hexdigest()


class HubResolve(http.server.BaseHTTPRequestHandler):
    """The Hub's file resolution, `/{owner}/{repo}/resolve/{revision}/{filename}`, over `server.repos`.

    `hf_hub_download` sends a HEAD (it needs `X-Repo-Commit`, an `ETag` or
    `X-Linked-Etag`, and the size), then a GET of the same URL. Missing repos,
    revisions and files answer 404 with the Hub's `X-Error-Code`.
    """

    timeout = 30

    def do_HEAD(self):
        self.resolve(send_body=False)

    def do_GET(self):
        self.resolve(send_body=True)

    def resolve(self, send_body):
        self.server.requests.append((self.command, self.path))
        parts = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return self.fail(404, "RepoNotFound")
        repo_id, revision, filename = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
        if repo_id not in self.server.repos:
            return self.fail(404, "RepoNotFound")
        if revision not in ("main", COMMIT):
            return self.fail(404, "RevisionNotFound")
        files = self.server.repos[repo_id]
        if filename not in files:
            return self.fail(404, "EntryNotFound")
        data = files[filename]
        etag = hashlib.sha256(data).hexdigest()
        self.send_response(200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{etag}"')
        self.send_header("X-Linked-Etag", f'"{etag}"')
        self.send_header("X-Linked-Size", str(len(data)))
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if send_body:
            self.wfile.write(data)

    def fail(self, status, code):
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):
        pass


@pytest.fixture
def hub(tmp_path, monkeypatch, artifact):
    """A loopback Hub holding `kerasrnn/charlm` (a published single-model folder); HF_ENDPOINT points at it."""
    pytest.importorskip("huggingface_hub")
    folder = publish_folder(str(tmp_path / "repo"), artifact)
    files = {name: open(os.path.join(folder, name), "rb").read() for name in os.listdir(folder)}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HubResolve)
    httpd.repos, httpd.requests = {"kerasrnn/charlm": files}, []
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("HF_ENDPOINT", httpd.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no token, no shared cache
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_hf_owner_repo_loads_through_huggingface_hub(tmp_path, hub, reference):
    assert_same_model(zoo.load("hf://kerasrnn/charlm"), reference)
    assert cache_listing(tmp_path) == [FILE]  # only the verified artifact stays
    resolved = {(method, path) for method, path in hub.requests}
    for filename in ("index.json", FILE):
        assert ("HEAD", f"/kerasrnn/charlm/resolve/main/{filename}") in resolved
        assert ("GET", f"/kerasrnn/charlm/resolve/main/{filename}") in resolved
    # A pinned revision resolves the same way.
    assert_same_model(CharLanguageModel.from_preset(f"hf://kerasrnn/charlm@{COMMIT}"), reference)


def test_hf_endpoint_set_before_start_is_honoured_in_a_fresh_process(tmp_path, hub):
    """What a user does: HF_ENDPOINT in the environment, then `kerasrnn`."""
    code = "import sys; from kerasrnn import zoo; print(type(zoo.load(sys.argv[1])).__name__)"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERASRNN_HOME": str(tmp_path / "fresh")}
    result = subprocess.run(
        [sys.executable, "-c", code, "hf://kerasrnn/charlm"], capture_output=True, text=True, env=env, timeout=150
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "CharLanguageModel"


def test_hf_sources_that_are_not_a_repository_are_clear_errors(hub):
    expected = r"'hf://kerasrnn' is not a Hugging Face model repository: expected hf://OWNER/REPO\[@REVISION\]"
    with pytest.raises(ValueError, match=expected):
        zoo.load("hf://kerasrnn")
    with pytest.raises(ValueError, match=r"Could not read hf://kerasrnn/missing/index.json"):
        zoo.load("hf://kerasrnn/missing")


# -- errors -------------------------------------------------------------------------


def test_an_unknown_preset_name_lists_the_near_names():
    assert "sentiment-imdb-bigru" in [entry["name"] for entry in read_index()]
    near = r"Unknown zoo model 'sentiment-imdb-bigr'\. Did you mean .*'sentiment-imdb-bigru'"
    with pytest.raises(ValueError, match=near):
        zoo.load("sentiment-imdb-bigr")


def test_a_keras_file_of_another_library_is_not_a_task_model(tmp_path):
    path = str(tmp_path / "plain.keras")
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save(path)
    with pytest.raises(ValueError, match=r"a Sequential, not a kerasrnn task model"):
        zoo.load(path)


def test_from_preset_of_the_wrong_class_names_both_classes(artifact):
    with pytest.raises(ValueError, match=r"is a CharLanguageModel, not a SentimentClassifier"):
        SentimentClassifier.from_preset(str(artifact[0]))


def test_a_wheel_without_an_origin_says_to_set_kerasrnn_zoo_url(tmp_path, monkeypatch):
    monkeypatch.setattr(zoo_download, "DEFAULT_ZOO_DIR", str(tmp_path / "no-models-here"))
    with pytest.raises(ValueError, match=r"No zoo origin is set.*KERASRNN_ZOO_URL"):
        zoo.load(NAME)
    assert cache_listing(tmp_path) == []
