"""The preset resolver: a zoo name, a `.keras` file, a folder, an `https://`/`file://` URL or `hf://` → a verified local file.

The lowest layer of loading, as KerasHub's `preset_utils`: `TaskModel.from_preset`
and `kerasrnn.zoo.load` both call down into `model_file`, which resolves the
source, checks the artifact's sha256 against its preset entry (a task folder's
`presets.json`, see `kerasrnn.zoo.index`), caches downloads and returns a path.
It imports nothing of the task model layer: what to build from the file is
`kerasrnn.tasks.preset_loading`'s concern.

Example:

>>> model_file("no-such-model")
Traceback (most recent call last):
...
ValueError: Unknown zoo model 'no-such-model'. Available: ...
"""

import hashlib
import os
import shutil
import tempfile
import urllib.parse
import zipfile

from kerasrnn.zoo.download import cache_dir, download_at_most, fetch, move_into_cache, partial_folder
from kerasrnn.zoo.index import INDEX_FILE, averaged_members, find_entry, parse_index, read_index

TRAINED_MODEL_FILE = "model.keras"  # what `kerasrnn train` writes in its folder
MAX_INDEX_BYTES = 16 * 1024 * 1024


def _single_entry(entries, source):
    if len(entries) == 1:
        return entries[0]
    names = ", ".join(sorted(entry["name"] for entry in entries)) or "(none)"
    raise ValueError(
        f"{source} is a zoo folder with {len(entries)} models ({names}): load one by name with "
        f"KERASRNN_ZOO_URL={source} set, or publish a single model there."
    )


def _download_index(base):
    """Read the `index.json` of a remote zoo folder (URL or hf://)."""
    folder = tempfile.mkdtemp(prefix="kerasrnn-index-")
    try:
        if base.startswith("hf://"):
            from kerasrnn.zoo.hugging_face import download_from_hub

            path = download_from_hub(base, INDEX_FILE, folder)
        else:
            # An index is a few kilobytes: a server sending more is stopped, not read to the end.
            path = os.path.join(folder, INDEX_FILE)
            download_at_most(f"{base}/{INDEX_FILE}", path, MAX_INDEX_BYTES)
        with open(path, encoding="utf-8") as file:
            return parse_index(file.read(), f"{base}/{INDEX_FILE}")
    except ValueError:
        raise
    except Exception as error:
        raise ValueError(f"Could not read {base}/{INDEX_FILE}: {error}") from error
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def is_keras_archive(path):
    """Whether `path` is a complete `.keras` file: a zip holding `config.json` whose every member passes its CRC.

    A download cut short (a server that closes mid-body without a
    Content-Length) fails this, so it never enters the cache.

    Example:

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "cut.keras")
    >>> _ = open(path, "wb").write(b"PK\\x03\\x04 half a file")
    >>> is_keras_archive(path)
    False
    """
    try:
        with zipfile.ZipFile(path) as archive:
            return "config.json" in archive.namelist() and archive.testzip() is None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError):
        return False


def _download_file(url):
    """A `.keras` file at a URL, cached under a name derived from the URL once it is checked complete.

    The download goes to a partial folder of its own beside the cached name
    (removed on any exit, see `partial_folder`), bounded by the download
    deadline (`KERASRNN_DOWNLOAD_TIMEOUT_SECONDS`), and is renamed into place
    only once it is a complete archive.
    """
    key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    folder = os.path.join(cache_dir(), "urls", key)
    name = os.path.basename(urllib.parse.urlparse(url).path)
    cached = os.path.join(folder, name)
    if os.path.isfile(cached) and is_keras_archive(cached):
        return cached
    # Else missing, or damaged since it was cached (it was complete then): fetched again and replaced.
    with partial_folder(folder) as staging:
        path = os.path.join(staging, name)
        try:
            download_at_most(url, path, None, name=name)
        except Exception as error:
            raise ValueError(f"Could not download {url}: {error}") from error
        if not is_keras_archive(path):
            raise ValueError(
                f"Could not download {url}: the {os.path.getsize(path)} bytes received are not a complete .keras "
                "archive (the transfer was cut short, or the URL names another kind of file); nothing was cached."
            )
        move_into_cache(path, cached, folder)
    return cached


def _is_zoo_name(source):
    """Whether `model_file` reads `source` as a zoo name: no URL, no existing path, no `.keras` and no folder in it."""
    return ("://" not in source and not os.path.exists(source) and not source.endswith(".keras")
            and os.sep not in source)


def preset_members(source):
    """The member names when `source` names a zoo model that averages others (assembled at load); else None.

    Such a model has no file of its own (see `kerasrnn.zoo.index.averaged_members`):
    `kerasrnn.tasks.preset_loading.load_preset` loads each member through
    `model_file` and averages them.

    Example:

    >>> preset_members("pos-ewt-average-bilstm-bigru")
    ['pos-ewt-bilstm', 'pos-ewt-bigru']
    >>> preset_members("pos-ewt-bigru") is None
    True
    """
    if not isinstance(source, (str, os.PathLike)) or not _is_zoo_name(os.fspath(source)):
        return None
    return averaged_members(find_entry(os.fspath(source)))


def model_file(source):
    """The local `.keras` path a source names, downloading and verifying it if needed.

    Sources:
        - a zoo name (`sentiment-imdb-bigru`): the packaged index says its
          sha256; the artifact comes from an installed model wheel
          (`pip install "kerasrnn[zoo]"`), else the cache, else
          `KERASRNN_ZOO_URL` or a clone's `models/` (see `fetch`);
        - a `.keras` file, or a folder written by `kerasrnn train`;
        - a published zoo folder holding one model (`index.json` + artifact),
          local, at an `https://`/`file://` URL, or `hf://OWNER/REPO`;
        - the URL of a `.keras` file.

    Example:

    >>> model_file("no-such-model")
    Traceback (most recent call last):
    ...
    ValueError: Unknown zoo model 'no-such-model'. Available: ...
    """
    if not isinstance(source, (str, os.PathLike)) or not str(source).strip():
        raise ValueError(f"A model source must be a zoo name, a path or a URL. Received: {source!r}")
    source = os.fspath(source)
    if source.startswith("hf://"):
        entry = _single_entry(_download_index(source.rstrip("/")), source)
        return fetch(entry, base_url=source.rstrip("/"))
    if "://" in source:
        scheme = source.split("://", 1)[0].lower()
        if scheme not in ("http", "https", "file"):
            raise ValueError(f"{source}: unsupported URL scheme {scheme!r}; use https://, http://, file:// or hf://.")
        if source.endswith(".keras"):
            return _download_file(source)
        base = source.rstrip("/")
        return fetch(_single_entry(_download_index(base), source), base_url=base)
    if os.path.isdir(source):
        if os.path.isfile(os.path.join(source, TRAINED_MODEL_FILE)):
            return os.path.join(source, TRAINED_MODEL_FILE)
        if os.path.isfile(os.path.join(source, INDEX_FILE)):
            entries = read_index(os.path.join(source, INDEX_FILE))
            return fetch(_single_entry(entries, source), base_url="file://" + urllib.parse.quote(os.path.abspath(source)))
        raise ValueError(f"{source}: a folder must hold {TRAINED_MODEL_FILE} (kerasrnn train) or {INDEX_FILE} (a zoo folder).")
    if os.path.isfile(source):
        return source
    if not _is_zoo_name(source):
        raise FileNotFoundError(
            f"{source}: no such file or folder (expected a zoo name, a .keras file, a `kerasrnn train` folder, "
            "a zoo folder or URL, or hf://OWNER/REPO)."
        )
    entry = find_entry(source)
    members = averaged_members(entry)
    if members is not None:
        raise ValueError(f"Zoo model {source!r} has no file of its own: it averages {', '.join(members)}, whose files "
                         f"`kerasrnn.zoo.load({source!r})` loads and averages.")
    return fetch(entry)
