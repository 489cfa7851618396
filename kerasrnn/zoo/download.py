"""Fetching zoo artifacts: downloads capped at the index's size, sha256 checks, an atomic local cache."""

import hashlib
import os
import shutil
import tempfile
import urllib.parse
import urllib.request

from kerasrnn.zoo.index import DEFAULT_ZOO_DIR


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
    "No zoo origin is set and this installation has no models/ folder beside it: set KERASRNN_ZOO_URL "
    "to a mirror of the zoo's models/ folder (http(s)://HOST/PATH, file:///PATH, a local folder, or "
    "hf://OWNER/REPO), or load a .keras file, folder or URL directly."
)


def zoo_url():
    """The one setting that says where artifacts come from: `$KERASRNN_ZOO_URL`.

    Unset, a clone (an editable install) uses the repository's own `models/`
    folder; a wheel installation has no default origin, and this raises
    `ValueError` saying how to point at a mirror. A plain folder path is
    turned into a `file://` URL.

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


def download_at_most(origin, path, size_bytes):
    """Copy `origin` to `path`, stopping as soon as it sends more than `size_bytes` (the index's size).

    Example:

    >>> download_at_most("file:///etc/hostname", "/tmp/hostname-copy", 1 << 20)  # doctest: +SKIP
    """
    received = 0
    with urllib.request.urlopen(origin, timeout=60) as response, open(path, "wb") as file:
        announced = response.headers.get("Content-Length") if hasattr(response, "headers") else None
        if announced is not None and announced.isdigit() and int(announced) > size_bytes:
            raise ValueError(f"the server announces {int(announced)} bytes, more than the index's size_bytes "
                             f"({size_bytes}); nothing was kept")
        while True:
            block = response.read(1 << 20)
            if not block:
                break
            received += len(block)
            if received > size_bytes:
                raise ValueError(f"the server sent more than the index's size_bytes ({size_bytes}); "
                                 "the download was stopped and deleted")
            file.write(block)
    if announced is not None and announced.isdigit() and received < int(announced):
        raise ValueError(f"the connection closed after {received} of {int(announced)} bytes")


def fetch(entry, base_url=None, directory=None, offline=None):
    """Return the local path of a zoo artifact, downloading and verifying it if needed.

    A cached file is used only if its sha256 matches the index. A download
    goes into a temporary folder beside the cache, stops as soon as it
    exceeds the index's `size_bytes`, is verified, and only then renamed into
    place, so an interrupted, oversized or corrupted download is never used
    and never left in the cache. The entry's `file` must be a plain file
    name: one with folders, `..` or an absolute path is refused.

    Args:
        entry: the model's index entry (`file`, `sha256` and `size_bytes` are used).
        base_url: where artifacts are served (default `zoo_url()`).
        directory: the cache folder (default `cache_dir()`).
        offline: forbid any download (default: `KERASRNN_OFFLINE=1`).

    Example:

    >>> from kerasrnn.zoo.index import read_index
    >>> path = fetch(read_index()[0])  # doctest: +SKIP
    """
    file_name = _checked_file_name(entry)
    directory = directory or cache_dir()
    offline = os.environ.get("KERASRNN_OFFLINE", "") not in ("", "0") if offline is None else offline
    target = os.path.join(directory, file_name)
    if os.path.exists(target):
        if sha256_of(target) == entry["sha256"]:
            return target
        os.remove(target)  # a stale or damaged copy: fetch it again
    if offline:
        raise ValueError(
            f"Zoo model {entry['name']!r} is not in the cache ({directory}) and KERASRNN_OFFLINE is set: "
            "download it once with network access (`kerasrnn zoo download NAME`) or unset KERASRNN_OFFLINE."
        )
    base = base_url or zoo_url()
    origin = f"{base}/{urllib.parse.quote(file_name)}"
    os.makedirs(directory, exist_ok=True)
    partial = tempfile.mkdtemp(prefix=".partial-", dir=directory)
    try:
        downloaded = os.path.join(partial, file_name)
        try:
            if base.startswith("hf://"):
                from kerasrnn.zoo.hugging_face import download_from_hub

                # huggingface_hub has no size cap; the size is checked once the file is here.
                downloaded = download_from_hub(base, file_name, partial)
                if os.path.getsize(downloaded) > int(entry["size_bytes"]):
                    raise ValueError(f"the repository's file is larger than the index's size_bytes ({entry['size_bytes']})")
            else:
                download_at_most(origin, downloaded, int(entry["size_bytes"]))
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
