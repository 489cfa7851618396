"""Local zoo folders are used in place, also offline; large downloads say so on stderr, never on stdout.

Issue 27, points 5 and 6: `KERASRNN_OFFLINE=1` in a clone loads from the
clone's own `models/` (a local folder is not a download), and a download of a
few MB or more shows its bytes on a terminal, one line otherwise.
"""

import functools
import http.server
import io
import os
import shutil
import sys
import threading

import pytest

from kerasrnn import zoo
from kerasrnn.zoo.download import DEFAULT_ZOO_DIR, PROGRESS_MIN_BYTES, download_at_most, fetch, sha256_of
from kerasrnn.zoo.index import find_entry
from kerasrnn.zoo.presets import model_file

NAME = "charlm-shakespeare-rnn"
FILE = f"{NAME}.keras"


@pytest.fixture(autouse=True)
def fresh_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASRNN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KERASRNN_ZOO_URL", raising=False)
    monkeypatch.delenv("KERASRNN_OFFLINE", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def mirror(tmp_path):
    """A local zoo folder holding a copy of the published artifact."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    shutil.copyfile(os.path.join(DEFAULT_ZOO_DIR, FILE), folder / FILE)
    if sha256_of(folder / FILE) != find_entry(NAME)["sha256"]:
        pytest.fail(f"models/{FILE} and the packaged index disagree: regenerate the index")
    return folder


def test_offline_in_a_clone_loads_from_its_models_folder_in_place(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASRNN_OFFLINE", "1")
    assert model_file(NAME) == os.path.join(DEFAULT_ZOO_DIR, FILE)
    assert zoo.load(NAME).generate("ROMEO:", length=5, seed=1).startswith("ROMEO:")
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize("offline", ["1", "0"])
def test_a_local_folder_origin_is_used_in_place(tmp_path, monkeypatch, mirror, offline):
    monkeypatch.setenv("KERASRNN_OFFLINE", offline)
    monkeypatch.setenv("KERASRNN_ZOO_URL", str(mirror))
    assert model_file(NAME) == str(mirror / FILE)
    monkeypatch.setenv("KERASRNN_ZOO_URL", f"file://{mirror}/")
    assert model_file(NAME) == str(mirror / FILE)
    assert not (tmp_path / "home").exists()


def test_a_damaged_local_file_is_a_checksum_error_and_is_left_alone(monkeypatch, mirror):
    data = bytearray((mirror / FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (mirror / FILE).write_bytes(bytes(data))
    monkeypatch.setenv("KERASRNN_ZOO_URL", str(mirror))
    with pytest.raises(ValueError, match=rf"Checksum mismatch for zoo model '{NAME}' at .*{FILE}: .*left as it is"):
        zoo.load(NAME)
    assert (mirror / FILE).read_bytes() == bytes(data)


def test_a_file_missing_from_a_local_folder_says_where_and_offline_how_to_get_it(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("KERASRNN_ZOO_URL", str(empty))
    with pytest.raises(ValueError, match=rf"Zoo model '{NAME}' is not in the zoo folder {empty}: .* does not exist"):
        model_file(NAME)
    monkeypatch.setenv("KERASRNN_OFFLINE", "1")
    expected = (rf"is not in the cache \(.*\) nor in {empty}, no installed model package holds it, and "
                r'KERASRNN_OFFLINE is set: install its model wheel \(`pip install "kerasrnn-zoo-char-lm"`')
    with pytest.raises(ValueError, match=expected):
        model_file(NAME)


@pytest.fixture
def large_file(tmp_path):
    path = tmp_path / "large.bin"
    path.write_bytes(os.urandom(PROGRESS_MIN_BYTES + 123))
    return path


class Terminal(io.StringIO):
    def isatty(self):
        return True


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass  # the test reads stderr


def test_a_large_download_is_one_stderr_line_when_stderr_is_not_a_terminal(tmp_path, large_file, capsys):
    size = large_file.stat().st_size
    download_at_most(f"file://{large_file}", str(tmp_path / "copy"), size, name="big-model")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"downloading big-model ({size / 1e6:.1f} MB) from file://{large_file}\n"
    # Small downloads (and the index, which has no name) stay silent.
    download_at_most(f"file://{large_file}", str(tmp_path / "copy"), size)
    assert capsys.readouterr() == ("", "")


def test_on_a_terminal_a_large_download_shows_the_bytes_received(tmp_path, monkeypatch, large_file, capsys):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    size = large_file.stat().st_size
    download_at_most(f"file://{large_file}", str(tmp_path / "copy"), size, name="big-model")
    shown = terminal.getvalue()
    assert shown.startswith("\rdownloading big-model: 1.0 of 4.2 MB (25%)")
    assert shown.endswith(f"\rdownloading big-model: {size / 1e6:.1f} of {size / 1e6:.1f} MB (100%)\n")
    assert capsys.readouterr().out == ""


def test_a_zoo_download_over_http_announces_itself_on_stderr(tmp_path, large_file, capsys):
    handler = functools.partial(QuietFiles, directory=str(large_file.parent))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    entry = {"name": "big-model", "file": large_file.name, "sha256": sha256_of(large_file),
             "size_bytes": large_file.stat().st_size}
    try:
        path = fetch(entry, base_url=base, directory=str(tmp_path / "cache"), offline=False)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert sha256_of(path) == entry["sha256"]
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"downloading big-model (4.2 MB) from {base}/{large_file.name}\n"
