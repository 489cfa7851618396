"""Zoo downloads that go wrong on the way (issue 28 points 8 and 11): stalled mirrors, signals, unwritable caches.

Real faults only: a loopback mirror that drips one byte at a time, real
SIGTERM and kill -9 sent to a real downloading process, a real read-only
file system (a tmpfs mounted read-only when running as root, where chmod
does not stop writes; chmod otherwise) and a cache path under a regular
file, a real damaged file in the cache. The artifact is the published
`models/charlm-shakespeare-rnn.keras` (the smallest, 1 MB), copied at test
time, and each test is bounded by an alarm (the fixtures of
`test_zoo_sources.py`). Each mirror stops dripping after `DRIP_FOR_SECONDS`,
so code without a deadline fails instead of hanging.
"""

import functools
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from kerasrnn.cli import main
from kerasrnn.zoo.download import fetch, sha256_of
from kerasrnn.zoo.index import find_entry
from test_zoo_sources import FILE, NAME, artifact, bounded  # noqa: F401 (fixtures: the artifact's copy, an alarm)

DRIP_SECONDS = 0.2  # one byte this often: far below any socket timeout, so only an overall deadline stops it
DRIP_FOR_SECONDS = 20  # then the mirror closes the connection
DEADLINE_SECONDS = 2
# A child process that downloads NAME from a mirror into a cache folder, as `kerasrnn zoo download` does.
DOWNLOAD = ("import json, sys; from kerasrnn.zoo.download import fetch; "
            "fetch(json.loads(sys.argv[1]), sys.argv[2], sys.argv[3])")


@pytest.fixture(autouse=True)
def no_deadline_setting(monkeypatch):
    """`bounded` (imported) bounds each test and puts the cache under tmp_path; the deadline is the default."""
    monkeypatch.delenv("KERASRNN_DOWNLOAD_TIMEOUT_SECONDS", raising=False)


class Dripping(http.server.BaseHTTPRequestHandler):
    """A mirror that sends one byte every DRIP_SECONDS: of the body (after a Content-Length), or of the headers."""

    def do_GET(self):
        data = self.server.data
        if self.server.drip == "headers":
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(data)}\r\nX-Padding: {'a' * 4096}\r\n\r\n".encode()
            self.server.requests.append(self.path)
            self._drip(head)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.flush()
        self.server.requests.append(self.path)
        self._drip(data)

    def _drip(self, data):
        ends = time.monotonic() + DRIP_FOR_SECONDS
        try:
            for index in range(len(data)):
                if time.monotonic() > ends or self.server.stopped.is_set():
                    return
                self.wfile.write(data[index:index + 1])
                self.wfile.flush()
                time.sleep(DRIP_SECONDS)
        except OSError:
            pass  # the client hung up

    def log_message(self, format, *args):
        pass


@pytest.fixture
def dripping(artifact):
    """Returns a function that starts a dripping mirror of the artifact (`drip`: "body" or "headers")."""
    servers = []

    def start(drip="body"):
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Dripping)
        httpd.data, httpd.drip, httpd.requests, httpd.stopped = artifact[0].read_bytes(), drip, [], threading.Event()
        httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return httpd

    yield start
    for httpd in servers:
        httpd.stopped.set()
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def mirror(tmp_path, artifact):
    """A plain static web server holding the artifact."""
    root = tmp_path / "www"
    root.mkdir()
    shutil.copyfile(artifact[0], root / FILE)
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root)))
    httpd.RequestHandlerClass.log_message = lambda *args: None
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def wait_for(condition, seconds, what):
    ends = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > ends:
            raise AssertionError(f"waited {seconds} s for {what}")
        time.sleep(0.05)


def partials(cache):
    return sorted(name for name in os.listdir(cache) if name.startswith(".partial-")) if os.path.isdir(cache) else []


def start_download(entry, url, cache):
    """A real child process downloading the artifact; returns it once its partial file exists."""
    before = set(partials(cache))
    child = subprocess.Popen([sys.executable, "-c", DOWNLOAD, json.dumps(entry), url, str(cache)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def started():
        return any(os.path.exists(os.path.join(cache, name, FILE)) for name in set(partials(cache)) - before)

    wait_for(started, 30, "the child's partial download")
    (child.partial,) = set(partials(cache)) - before
    return child


# -- point 8: an overall deadline; nothing left in the cache on any exit ---------------------------


@pytest.mark.parametrize("drip", ["body", "headers"])
def test_a_dripping_mirror_is_stopped_at_the_deadline_in_one_line_and_leaves_nothing(
    tmp_path, monkeypatch, dripping, artifact, drip
):
    server = dripping(drip)
    cache = tmp_path / "cache"
    monkeypatch.setenv("KERASRNN_DOWNLOAD_TIMEOUT_SECONDS", str(DEADLINE_SECONDS))
    started = time.monotonic()
    with pytest.raises(ValueError) as raised:
        fetch(artifact[1], base_url=server.url, directory=str(cache))
    elapsed = time.monotonic() - started
    message = str(raised.value)
    size = artifact[1]["size_bytes"]
    expected = rf"[1-9]\d* of {size}" if drip == "body" else rf"0 of at most {size}"
    assert "\n" not in message
    assert message.startswith(f"Could not download zoo model '{NAME}' from {server.url}/{FILE}: "), message
    assert f"within its {DEADLINE_SECONDS} s deadline (KERASRNN_DOWNLOAD_TIMEOUT_SECONDS)" in message, message
    assert re.search(rf"{expected} bytes received; nothing was kept", message), message
    assert DEADLINE_SECONDS <= elapsed < DEADLINE_SECONDS + 3, f"stopped after {elapsed:.1f} s"
    assert os.listdir(cache) == []


def test_the_deadline_setting_is_checked_and_named(monkeypatch, mirror, artifact, tmp_path, capsys):
    monkeypatch.setenv("KERASRNN_DOWNLOAD_TIMEOUT_SECONDS", "-5")
    with pytest.raises(ValueError, match=r"^KERASRNN_DOWNLOAD_TIMEOUT_SECONDS must be a positive number .* '-5'$"):
        fetch(artifact[1], base_url=mirror.url, directory=str(tmp_path / "cache"))
    # A deadline long enough for the transfer changes nothing.
    monkeypatch.setenv("KERASRNN_DOWNLOAD_TIMEOUT_SECONDS", "30")
    path = fetch(artifact[1], base_url=mirror.url, directory=str(tmp_path / "cache"))
    assert sha256_of(path) == artifact[1]["sha256"] and os.listdir(tmp_path / "cache") == [FILE]


def test_sigterm_during_a_download_leaves_no_partial_folder(tmp_path, dripping, artifact):
    server = dripping()
    cache = tmp_path / "cache"
    child = start_download(artifact[1], server.url, cache)
    time.sleep(0.5)  # well inside its blocking read
    child.send_signal(signal.SIGTERM)
    _, stderr = child.communicate(timeout=15)
    assert child.returncode == 128 + signal.SIGTERM, (child.returncode, stderr[-2000:])
    assert os.listdir(cache) == []


def test_a_partial_left_by_kill_9_is_removed_by_the_next_download_and_a_live_one_is_kept(
    tmp_path, dripping, mirror, artifact
):
    server = dripping()
    cache = tmp_path / "cache"
    killed = start_download(artifact[1], server.url, cache)
    alive = start_download(artifact[1], server.url, cache)
    try:
        time.sleep(2.5)  # past the grace in which a fresh partial may not be locked yet
        killed.kill()
        killed.wait(timeout=15)
        assert killed.partial in partials(cache)  # what kill -9 leaves: nothing of ours ran
        path = fetch(artifact[1], base_url=mirror.url, directory=str(cache))
        assert sha256_of(path) == artifact[1]["sha256"]
        assert sorted(os.listdir(cache)) == sorted([FILE, alive.partial])  # the dead one's gone, the live one kept
        assert alive.poll() is None
    finally:
        alive.kill()
        alive.wait(timeout=15)
        killed.kill()


# -- point 11: an unwritable cache, a damaged copy offline -----------------------------------------


@pytest.fixture
def read_only_home(tmp_path):
    """A real read-only folder for KERASRNN_HOME and how it was made; its `models/` holds the artifact if asked.

    As root, chmod does not stop writes, so a tmpfs is mounted there and
    remounted read-only (skipped where mounting is not permitted); otherwise
    the folders are chmod-ed read-only.
    """
    home = tmp_path / "ro-home"
    home.mkdir()
    mounted = False
    if os.geteuid() == 0:
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "kerasrnn-test", str(home)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"running as root, where chmod does not stop writes, and mounting a tmpfs is refused: "
                        f"{result.stderr.strip()}")
        mounted = True

    def make_read_only(with_copy_of=None):
        if with_copy_of is not None:
            (home / "models").mkdir()
            shutil.copyfile(with_copy_of, home / "models" / FILE)
        if mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(home)], check=True)
            return "a read-only tmpfs"
        for folder, _, _ in os.walk(home):
            os.chmod(folder, 0o555)
        return "chmod 555"

    yield home, make_read_only
    if mounted:
        subprocess.run(["umount", str(home)], check=True)
    else:
        for folder, _, _ in os.walk(home):
            os.chmod(folder, 0o755)


def test_a_read_only_cache_is_one_line_with_exit_2_naming_the_folder_and_kerasrnn_home(
    monkeypatch, read_only_home, mirror, capsys
):
    home, make_read_only = read_only_home
    how = make_read_only()
    monkeypatch.setenv("KERASRNN_HOME", str(home))
    monkeypatch.setenv("KERASRNN_ZOO_URL", mirror.url)
    assert main(["zoo", "download", NAME]) == 2, how
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    assert error.startswith(f"kerasrnn zoo: error: The zoo cache folder {home / 'models'} is not writable ("), error
    assert "set KERASRNN_HOME to a writable folder" in error


def test_a_read_only_cache_holding_a_good_copy_still_loads(monkeypatch, read_only_home, artifact):
    home, make_read_only = read_only_home
    make_read_only(with_copy_of=artifact[0])
    path = fetch(artifact[1], base_url="http://127.0.0.1:9", directory=str(home / "models"))  # no download
    assert path == str(home / "models" / FILE)


def test_a_cache_path_under_a_regular_file_is_one_line_with_exit_2(tmp_path, monkeypatch, mirror, capsys):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("KERASRNN_HOME", str(tmp_path / "a-file" / "home"))
    monkeypatch.setenv("KERASRNN_ZOO_URL", mirror.url)
    assert main(["zoo", "download", NAME]) == 2
    error = capsys.readouterr().err
    assert error == (f"kerasrnn zoo: error: The zoo cache folder {tmp_path / 'a-file' / 'home' / 'models'} is not "
                     "writable (Not a directory): set KERASRNN_HOME to a writable folder (the cache is then "
                     '$KERASRNN_HOME/models), or install the model wheels (`pip install "kerasrnn[zoo]"`), which load '
                     "without the cache.\n")


@pytest.mark.parametrize("damage", ["zeroed", "cut in half"])
def test_offline_a_damaged_cached_copy_is_reported_as_damaged_not_missing(tmp_path, monkeypatch, capsys, damage):
    entry = find_entry(NAME)
    size = entry["size_bytes"] if damage == "zeroed" else entry["size_bytes"] // 2
    cached = tmp_path / "home" / "models" / FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(bytes(size))
    monkeypatch.setenv("KERASRNN_OFFLINE", "1")
    monkeypatch.setenv("KERASRNN_ZOO_URL", "http://127.0.0.1:9")  # a remote origin: the cache is the only copy
    assert main(["zoo", "download", NAME]) == 2
    error = capsys.readouterr().err
    check = (f"its sha256 is {sha256_of(cached)}, the index says {entry['sha256']}" if damage == "zeroed"
             else f"it has {size} bytes, the index says {entry['size_bytes']}")
    assert error.count("\n") == 1, error
    assert error.startswith(f"kerasrnn zoo: error: Zoo model '{NAME}': the cached copy {cached} is damaged ({check}) "
                            "and KERASRNN_OFFLINE is set, so it cannot be fetched again: unset KERASRNN_OFFLINE"), error
    assert cached.read_bytes() == bytes(size)  # left as it is: nothing offline could replace it
