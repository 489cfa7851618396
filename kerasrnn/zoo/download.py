"""Fetching zoo artifacts: installed model packages, the cache, then the origin; sha256 checks throughout.

Downloads are capped at the index's size and land in the cache atomically;
local files (a model package, a clone's `models/`, a folder or `file://`
origin) are verified and used where they are.
"""

import hashlib
import os
import shutil
import sys
import tempfile
import urllib.parse
import urllib.request

from kerasrnn.zoo.index import DEFAULT_ZOO_DIR
from kerasrnn.zoo.model_packages import packaged_model_file


def cache_dir():
    """Where downloaded models live: `$KERASRNN_HOME/models`, else `$KERAS_HOME` or `~/.keras`.

    Example:

    >>> os.path.basename(cache_dir())
    'models'
    """
    if os.environ.get("KERASRNN_HOME"):
        return os.path.join(os.environ["KERASRNN_HOME"], "models")
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(keras_home, "kerasrnn", "models")


NO_ORIGIN = (
    "No zoo origin is set and this installation has no models/ folder beside it: install the model wheels "
    'with pip, `pip install "kerasrnn[zoo]"` (all tasks) or one task\'s kerasrnn-zoo-sentiment, '
    "kerasrnn-zoo-pos-tagger or kerasrnn-zoo-char-lm (add --find-links DIR for wheels built by "
    "`kerasrnn zoo package --out DIR`); or set KERASRNN_ZOO_URL to a mirror of the zoo's models/ folder "
    "(http(s)://HOST/PATH, file:///PATH, a local folder, or hf://OWNER/REPO); or load a .keras file, "
    "folder or URL directly."
)

# Downloads at least this large say so on stderr (a progress line on a terminal).
PROGRESS_MIN_BYTES = 4 * 1024 * 1024


def zoo_url():
    """The one setting that says where artifacts come from: `$KERASRNN_ZOO_URL`.

    It is consulted after the installed model packages and the cache (see
    `fetch`). Unset, a clone (an editable install) uses the repository's own
    `models/` folder; a wheel installation has no default origin, and this
    raises `ValueError` saying how to install the model wheels or point at a
    mirror. A plain folder path is turned into a `file://` URL.

    Example:

    >>> zoo_url().startswith(("file://", "http", "hf://"))  # doctest: +SKIP
    True
    """
    base = os.environ.get("KERASRNN_ZOO_URL")
    if not base:
        if not os.path.isdir(DEFAULT_ZOO_DIR):
            raise ValueError(NO_ORIGIN)
        base = DEFAULT_ZOO_DIR
    if "://" not in base:
        base = "file://" + urllib.parse.quote(os.path.abspath(base))
    return base.rstrip("/")


def sha256_of(path):
    """The hex sha256 of a file, read in 1 MiB blocks.

    Example:

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "x")
    >>> _ = open(path, "wb").write(b"abc")
    >>> sha256_of(path)[:12]
    'ba7816bf8f01'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checked_file_name(entry):
    """The entry's `file`, refused unless it is a plain name that stays inside the cache folder."""
    name = entry.get("file")
    if (not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name
            or "\x00" in name or os.path.isabs(name) or (os.altsep and os.altsep in name)):
        raise ValueError(
            f"Zoo index entry {entry.get('name')!r}: `file` must be a plain file name (no folder separators, "
            f"not '..', not absolute). Received: file={name!r}"
        )
    return name


def _shown_origin(origin):
    """The origin without any `user:password@` part, for messages."""
    parts = urllib.parse.urlsplit(origin)
    if "@" not in parts.netloc:
        return origin
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _announce_download(name, size_bytes, origin):
    """One line on stderr: what is downloaded, how large, from where."""
    print(f"downloading {name} ({size_bytes / 1e6:.1f} MB) from {_shown_origin(origin)}", file=sys.stderr, flush=True)


class _DownloadProgress:
    """Says on stderr that a large download is under way; stdout stays clean for the CLI's JSON.

    On a terminal one line is redrawn with the bytes received; otherwise (a
    log, CI) a single line is written when the download starts.
    """

    def __init__(self, name, size_bytes, origin):
        self.name, self.size_bytes = name, size_bytes
        self.terminal = sys.stderr.isatty()
        self.shown = False
        if not self.terminal:
            _announce_download(name, size_bytes, origin)

    def update(self, received):
        if self.terminal:
            percent = 100 * received / self.size_bytes if self.size_bytes else 100
            sys.stderr.write(f"\rdownloading {self.name}: {received / 1e6:.1f} of {self.size_bytes / 1e6:.1f} MB "
                             f"({percent:.0f}%)")
            sys.stderr.flush()
            self.shown = True

    def close(self):
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


def download_at_most(origin, path, size_bytes, name=None):
    """Copy `origin` to `path`, stopping as soon as it sends more than `size_bytes` (the index's size).

    Args:
        origin: an `http(s)://` or `file://` URL.
        path: where the bytes go.
        size_bytes: the most bytes accepted (the index's `size_bytes`).
        name: the model's name; given, a download of `PROGRESS_MIN_BYTES` or
            more shows its progress on stderr (one line when stderr is not a
            terminal). stdout is never written.

    Example:

    >>> import tempfile
    >>> source = os.path.join(tempfile.mkdtemp(), "small.bin")
    >>> _ = open(source, "wb").write(b"abc")
    >>> download_at_most("file://" + source, source + ".copy", 1 << 20)
    >>> open(source + ".copy", "rb").read()
    b'abc'
    """
    received = 0
    progress = None
    with urllib.request.urlopen(origin, timeout=60) as response, open(path, "wb") as file:
        announced = response.headers.get("Content-Length") if hasattr(response, "headers") else None
        if announced is not None and announced.isdigit() and int(announced) > size_bytes:
            raise ValueError(f"the server announces {int(announced)} bytes, more than the index's size_bytes "
                             f"({size_bytes}); nothing was kept")
        if name is not None and size_bytes >= PROGRESS_MIN_BYTES:
            progress = _DownloadProgress(name, size_bytes, origin)
        try:
            while True:
                block = response.read(1 << 20)
                if not block:
                    break
                received += len(block)
                if received > size_bytes:
                    raise ValueError(f"the server sent more than the index's size_bytes ({size_bytes}); "
                                     "the download was stopped and deleted")
                file.write(block)
                if progress is not None:
                    progress.update(received)
        finally:
            if progress is not None:
                progress.close()
    if announced is not None and announced.isdigit() and received < int(announced):
        raise ValueError(f"the connection closed after {received} of {int(announced)} bytes")


def _local_folder(base):
    """The folder a `file://` origin names, or None for a remote one (http(s)://, hf://)."""
    if not base.startswith("file://"):
        return None
    return urllib.request.url2pathname(urllib.parse.urlsplit(base).path)


def _offline_error(entry, directory, also_missing_from=None):
    """The error for a model that is nowhere on this machine while downloads are forbidden."""
    from kerasrnn.zoo.model_packages import model_package_name

    where = f" nor in {also_missing_from}" if also_missing_from else ""
    wheel = f'`pip install "{model_package_name(entry["task"])}"` or ' if isinstance(entry.get("task"), str) else ""
    return ValueError(
        f"Zoo model {entry['name']!r} is not in the cache ({directory}){where}, no installed model package holds it, "
        f'and KERASRNN_OFFLINE is set: install its model wheel ({wheel}`pip install "kerasrnn[zoo]"`), download it '
        "once with network access (`kerasrnn zoo download NAME`), or unset KERASRNN_OFFLINE."
    )


def _verified_local_file(entry, path, origin):
    """A file of a local zoo folder, used where it is once its size and sha256 match the index."""
    size = os.path.getsize(path)
    if size > int(entry["size_bytes"]):
        raise ValueError(f"Zoo model {entry['name']!r}: {path} has {size} bytes, more than the index's size_bytes "
                         f"({entry['size_bytes']}); it was not read.")
    actual = sha256_of(path)
    if actual != entry["sha256"]:
        raise ValueError(
            f"Checksum mismatch for zoo model {entry['name']!r} at {path}: expected sha256 {entry['sha256']}, "
            f"got {actual}. That folder ({origin}) holds another version of the file; it was left as it is."
        )
    return path


def fetch(entry, base_url=None, directory=None, offline=None):
    """Return the local path of a zoo artifact, downloading and verifying it if needed.

    Where a zoo name is looked for, in order (every file is checked against
    the entry's sha256 before it is returned):

    1. an installed model package (`pip install "kerasrnn[zoo]"`, see
       `kerasrnn.zoo.model_packages`), used in place; only when `base_url`
       is not given, i.e. for a name, not for an explicit folder or URL;
    2. the cache (`cache_dir()`);
    3. the origin (`base_url`, else `zoo_url()`): a local folder or
       `file://` origin (a clone's `models/`) is used in place, also with
       `KERASRNN_OFFLINE=1`: it is not a download; an `http(s)://` or
       `hf://` origin is downloaded into the cache, unless offline.

    A download goes into a temporary folder beside the cache, stops as soon
    as it exceeds the index's `size_bytes`, is verified, and only then
    renamed into place, so an interrupted, oversized or corrupted download is
    never used and never left in the cache. Downloads of a few MB or more say
    so on stderr. The entry's `file` must be a plain file name: one with
    folders, `..` or an absolute path is refused.

    Args:
        entry: the model's index entry (`file`, `sha256` and `size_bytes` are used).
        base_url: where artifacts are served (default `zoo_url()`).
        directory: the cache folder (default `cache_dir()`).
        offline: forbid any download (default: `KERASRNN_OFFLINE=1`).

    Example:

    >>> from kerasrnn.zoo.index import find_entry
    >>> path = fetch(find_entry("charlm-shakespeare-rnn"))  # doctest: +SKIP
    """
    file_name = _checked_file_name(entry)
    if base_url is None:
        packaged = packaged_model_file(entry)
        if packaged is not None:
            return packaged
    directory = directory or cache_dir()
    offline = os.environ.get("KERASRNN_OFFLINE", "") not in ("", "0") if offline is None else offline
    target = os.path.join(directory, file_name)
    if os.path.exists(target):
        if sha256_of(target) == entry["sha256"]:
            return target
        os.remove(target)  # a stale or damaged copy: fetch it again
    try:
        base = (base_url or zoo_url()).rstrip("/")
    except ValueError:
        if offline:
            raise _offline_error(entry, directory) from None
        raise
    folder = _local_folder(base)
    if folder is not None:
        local = os.path.join(folder, file_name)
        if os.path.isfile(local):
            return _verified_local_file(entry, local, base)
        if offline:
            raise _offline_error(entry, directory, also_missing_from=folder)
        raise ValueError(f"Zoo model {entry['name']!r} is not in the zoo folder {folder}: {local} does not exist.")
    if offline:
        raise _offline_error(entry, directory)
    origin = f"{base}/{urllib.parse.quote(file_name)}"
    os.makedirs(directory, exist_ok=True)
    partial = tempfile.mkdtemp(prefix=".partial-", dir=directory)
    try:
        downloaded = os.path.join(partial, file_name)
        try:
            if base.startswith("hf://"):
                from kerasrnn.zoo.hugging_face import download_from_hub

                # On a terminal huggingface_hub draws its own progress bar (on stderr).
                if int(entry["size_bytes"]) >= PROGRESS_MIN_BYTES and not sys.stderr.isatty():
                    _announce_download(entry["name"], int(entry["size_bytes"]), origin)
                # huggingface_hub has no size cap; the size is checked once the file is here.
                downloaded = download_from_hub(base, file_name, partial)
                if os.path.getsize(downloaded) > int(entry["size_bytes"]):
                    raise ValueError(f"the repository's file is larger than the index's size_bytes ({entry['size_bytes']})")
            else:
                download_at_most(origin, downloaded, int(entry["size_bytes"]), name=entry["name"])
        except Exception as error:
            raise ValueError(f"Could not download zoo model {entry['name']!r} from {origin}: {error}") from error
        actual = sha256_of(downloaded)
        if actual != entry["sha256"]:
            raise ValueError(
                f"Checksum mismatch for zoo model {entry['name']!r} from {origin}: expected sha256 "
                f"{entry['sha256']}, got {actual}. The file was deleted; retry, or check KERASRNN_ZOO_URL "
                "points at an intact mirror."
            )
        os.replace(downloaded, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target
