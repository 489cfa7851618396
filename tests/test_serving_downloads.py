"""Hostile zoo indexes and mirrors, and hostile IMDB archives (issue #12's "Zoo" and "Loaders")."""

import hashlib
import http.server
import io
import os
import tarfile
import threading
import time

import pytest

from kerasrnn.data import imdb
from kerasrnn.data.imdb import load_imdb
from kerasrnn.zoo.download import fetch


def _entry(file, data=b"model bytes", size_bytes=None):
    return {"name": "evil", "file": file, "sha256": hashlib.sha256(data).hexdigest(),
            "size_bytes": len(data) if size_bytes is None else size_bytes}


@pytest.mark.parametrize("file", ["../outside.keras", "sub/model.keras", "..", ".", "", "a\\b.keras"])
def test_index_file_names_outside_the_cache_are_refused(tmp_path, file):
    cache = tmp_path / "cache"
    cache.mkdir()
    outside = tmp_path / "outside.keras"
    outside.write_bytes(b"someone else's file")
    with pytest.raises(ValueError, match="`file` must be a plain file name"):
        fetch(_entry(file), base_url="file:///nonexistent", directory=str(cache), offline=True)
    assert outside.read_bytes() == b"someone else's file"  # never deleted


def test_an_absolute_file_name_is_not_returned(tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(b"model bytes")  # matches the checksum: would be returned as the model
    with pytest.raises(ValueError, match="`file` must be a plain file name"):
        fetch(_entry(str(secret)), directory=str(tmp_path / "cache"), offline=True)


class _Endless(http.server.BaseHTTPRequestHandler):
    """Streams up to 64 MiB with no Content-Length, counting what the client took."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        block = b"\0" * 65536
        try:
            for _ in range(1024):
                self.wfile.write(block)
                self.server.sent += len(block)
        except OSError:
            pass

    def log_message(self, *args):
        pass


def test_downloads_stop_at_the_index_size(tmp_path):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    httpd.sent = 0
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        with pytest.raises(ValueError, match=r"more than the index's size_bytes \(1048576\)"):
            fetch(_entry("big.keras", size_bytes=1 << 20), base_url=f"http://127.0.0.1:{httpd.server_address[1]}",
                  directory=str(tmp_path / "cache"), offline=False)
        assert time.monotonic() - started < 10
        time.sleep(0.5)
        assert httpd.sent < 16 << 20, f"{httpd.sent} bytes were sent for a 1 MiB entry"
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert os.listdir(tmp_path / "cache") == []  # nothing left behind


def test_an_announced_oversize_is_refused_before_reading(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with open(mirror / "big.keras", "wb") as file:
        file.truncate(64 << 20)  # sparse: 64 MiB announced by file://
    # A local origin is used in place: its size is checked before a byte is read.
    with pytest.raises(ValueError, match=r"67108864 bytes, more than the index's size_bytes \(1048576\)"):
        fetch(_entry("big.keras", size_bytes=1 << 20), base_url=f"file://{mirror}", directory=str(tmp_path / "cache"),
              offline=False)


def _tarball(path, members):
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        for name, size in members:
            info = tarfile.TarInfo(name)
            info.size = size
            archive.addfile(info, io.BytesIO(b"a" * size) if size < 1 << 16 else _Zeros(size))


class _Zeros(io.RawIOBase):
    def __init__(self, size):
        self.left = size

    def readinto(self, buffer):
        count = min(len(buffer), self.left)
        buffer[:count] = b"\0" * count
        self.left -= count
        return count


def test_an_oversized_archive_member_is_refused_with_one_line(tmp_path):
    path = tmp_path / "imdb.tar.gz"
    _tarball(path, [("aclImdb/train/pos/1_10.txt", 100), ("aclImdb/train/neg/2_1.txt", 64 << 20)])
    assert os.path.getsize(path) < 1 << 20  # a small file that expands to 64 MiB
    started = time.monotonic()
    with pytest.raises(ValueError) as raised:
        load_imdb(str(path), splits=("train",))
    message = str(raised.value)
    assert "'aclImdb/train/neg/2_1.txt' is 67108864 bytes, over the limit of 10485760" in message
    assert "\n" not in message and time.monotonic() - started < 5
    _tarball(path, [("aclImdb/train/pos/1_10.txt", 100), ("aclImdb/train/neg/2_1.txt", 2000)])
    with pytest.raises(ValueError, match="over the limit of 1000 bytes"):
        load_imdb(str(path), splits=("train",), max_member_bytes=1000)
    assert len(load_imdb(str(path), splits=("train",))["train"][0]) == 2


def test_running_out_of_memory_while_loading_is_one_line(tmp_path, monkeypatch):
    path = tmp_path / "imdb.tar.gz"
    _tarball(path, [("aclImdb/train/pos/1_10.txt", 100)])

    def exhausted(*args):
        raise MemoryError
        yield  # a generator, as the real one

    monkeypatch.setattr(imdb, "_review_files_unguarded", exhausted)
    with pytest.raises(ValueError, match="out of memory reading the reviews"):
        load_imdb(str(path), splits=("train",))

