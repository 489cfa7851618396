"""Fetching zoo artifacts: installed model packages, the cache, then the origin; sha256 checks throughout.

Downloads are capped at the index's size and at an overall deadline
(`KERASRNN_DOWNLOAD_TIMEOUT_SECONDS`), and land in the cache atomically: a
`.partial-*` folder is removed on any exit (SIGTERM included), and one left by
a killed process is removed by the next download. Local files (a model
package, a clone's `models/`, a folder or `file://` origin) are verified and
used where they are.
"""

import contextlib
import hashlib
import math
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

try:
    import fcntl
except ImportError:  # Windows: no flock; partials left by killed processes are then removed by age alone
    fcntl = None

from kerasrnn.zoo.model_packages import packaged_model_file

# A clone's published zoo folder (`models/` beside the `kerasrnn/` package):
# the default origin of an editable install, read in place, never written by
# the package (the maintainer tooling in `tools/zoo` writes it). A wheel
# installation has no such folder, so `zoo_url` then needs KERASRNN_ZOO_URL.
DEFAULT_ZOO_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "models")


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

DOWNLOAD_TIMEOUT_ENV = "KERASRNN_DOWNLOAD_TIMEOUT_SECONDS"
# Ten minutes: the largest zoo artifact (about 30 MB) over a 1 Mbit/s link, with room to spare.
DEFAULT_DOWNLOAD_TIMEOUT_SECONDS = 600
# The socket timeout: how long one connect or read may wait (the overall deadline bounds their sum).
SOCKET_TIMEOUT_SECONDS = 60

PARTIAL_PREFIX = ".partial-"
# Inside each partial folder; its owner holds a flock on it for as long as it downloads.
PARTIAL_LOCK_FILE = ".download.lock"
# A partial whose lock is free but younger than this may be one whose owner has not locked it yet.
PARTIAL_LOCK_GRACE_SECONDS = 2
# A partial without a lock file (an older kerasrnn's) is removed once nothing in it changed for this long.
UNLOCKED_PARTIAL_SECONDS = 24 * 3600


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


def download_timeout_seconds():
    """The overall deadline of one download, in seconds: `$KERASRNN_DOWNLOAD_TIMEOUT_SECONDS`, default 600.

    The socket timeout (60 s) only bounds one wait; a mirror that sends a
    byte every few seconds never trips it. This bounds the whole transfer of
    one artifact (connecting, headers and body). `inf` means no deadline.

    Example:

    >>> download_timeout_seconds()
    600
    >>> os.environ["KERASRNN_DOWNLOAD_TIMEOUT_SECONDS"] = "soon"
    >>> download_timeout_seconds()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: KERASRNN_DOWNLOAD_TIMEOUT_SECONDS must be a positive number of seconds (...). Received: 'soon'
    >>> del os.environ["KERASRNN_DOWNLOAD_TIMEOUT_SECONDS"]
    """
    text = os.environ.get(DOWNLOAD_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_DOWNLOAD_TIMEOUT_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not seconds > 0:  # also refuses nan
        raise ValueError(f"{DOWNLOAD_TIMEOUT_ENV} must be a positive number of seconds (e.g. 600, or inf for no "
                         f"deadline). Received: {text!r}")
    return seconds


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
    if "average_of" in entry:
        raise ValueError(f"Zoo model {entry.get('name')!r} has no file of its own: it averages "
                         f"{', '.join(map(str, entry['average_of']))}; fetch those.")
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


class _Deadline:
    """Cuts the connections of one download when its time is up.

    A blocked read is woken by shutting its socket down from a timer thread:
    the read then sees the connection end, and the reader reports the
    deadline. The sockets are duplicates taken as each connection is made,
    before any TLS handshake, so a slow handshake or slow headers are cut
    too, and a redirect's new connection is watched as well.
    """

    def __init__(self, seconds):
        self.seconds = seconds
        self.passed = False
        self._sockets = []
        self._lock = threading.Lock()
        self._timer = None
        if math.isfinite(seconds):
            self._timer = threading.Timer(seconds, self._expire)
            self._timer.daemon = True
            self._timer.start()

    def watch(self, sock):
        duplicate = sock.dup()  # stays valid when TLS wraps (and detaches) the original
        with self._lock:
            self._sockets.append(duplicate)
            if self.passed:
                _cut(duplicate)

    def _expire(self):
        with self._lock:
            self.passed = True
            for sock in self._sockets:
                _cut(sock)

    def close(self):
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()


def _cut(sock):
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _watched_connections(connection_class, deadline):
    """A stand-in for an `http.client` connection class whose sockets `deadline` watches."""

    def connection(*args, **kwargs):
        made = connection_class(*args, **kwargs)
        create = getattr(made, "_create_connection", None)
        if create is not None:  # http.client's own hook for making the TCP socket

            def create_watched(*create_args, **create_kwargs):
                sock = create(*create_args, **create_kwargs)
                deadline.watch(sock)
                return sock

            made._create_connection = create_watched
        return made

    return connection


class _WatchedConnections:
    """Makes an `http.client` connection class's sockets watched by a `_Deadline` (mixed into a urllib handler)."""

    def __init__(self, deadline):
        super().__init__()
        self.deadline = deadline

    def do_open(self, http_class, req, **kwargs):
        return super().do_open(_watched_connections(http_class, self.deadline), req, **kwargs)


class _WatchedHTTPHandler(_WatchedConnections, urllib.request.HTTPHandler):
    pass


class _WatchedHTTPSHandler(_WatchedConnections, urllib.request.HTTPSHandler):
    pass


def download_at_most(origin, path, size_bytes, name=None, deadline_seconds=None):
    """Copy `origin` to `path`, stopping as soon as it sends more than `size_bytes` or its deadline passes.

    Args:
        origin: an `http(s)://` or `file://` URL.
        path: where the bytes go.
        size_bytes: the most bytes accepted (the index's `size_bytes`), or
            None for no cap (a `.keras` URL, whose size nobody announced).
        name: the model's name; given, a download of `PROGRESS_MIN_BYTES` or
            more shows its progress on stderr (one line when stderr is not a
            terminal). stdout is never written.
        deadline_seconds: the most seconds the whole transfer may take,
            connecting included (default `download_timeout_seconds()`); past
            it, `TimeoutError` says how many bytes came. `path` is left for
            the caller to delete, as after any other error.

    Example:

    >>> import tempfile
    >>> source = os.path.join(tempfile.mkdtemp(), "small.bin")
    >>> _ = open(source, "wb").write(b"abc")
    >>> download_at_most("file://" + source, source + ".copy", 1 << 20)
    >>> open(source + ".copy", "rb").read()
    b'abc'
    """
    seconds = download_timeout_seconds() if deadline_seconds is None else deadline_seconds
    deadline = _Deadline(seconds)
    received = 0
    announced = None
    expected = f"at most {size_bytes}" if size_bytes is not None else "an unknown number of"
    try:
        opener = urllib.request.build_opener(_WatchedHTTPHandler(deadline), _WatchedHTTPSHandler(deadline))
        with opener.open(origin, timeout=min(SOCKET_TIMEOUT_SECONDS, seconds)) as response, open(path, "wb") as file:
            announced = response.headers.get("Content-Length") if hasattr(response, "headers") else None
            announced = int(announced) if announced is not None and announced.isdigit() else None
            if announced is not None:
                expected = str(announced)
            if announced is not None and size_bytes is not None and announced > size_bytes:
                raise ValueError(f"the server announces {announced} bytes, more than the index's size_bytes "
                                 f"({size_bytes}); nothing was kept")
            received = _copy_body(response, file, size_bytes, name, origin, announced, deadline)
    except Exception as error:
        if deadline.passed:
            received = os.path.getsize(path) if os.path.exists(path) else 0
            raise TimeoutError(
                f"the transfer did not finish within its {seconds:g} s deadline ({DOWNLOAD_TIMEOUT_ENV}): "
                f"{received} of {expected} bytes received; nothing was kept"
            ) from error
        raise
    finally:
        deadline.close()
    if announced is not None and received < announced:
        raise ValueError(f"the connection closed after {received} of {announced} bytes")


def _copy_body(response, file, size_bytes, name, origin, announced, deadline):
    """Copy the body of `response` into `file`, capped at `size_bytes`; returns the bytes received.

    An end of the body caused by the deadline (the connection was cut) raises.
    """
    received = 0
    progress = None
    total = size_bytes if size_bytes is not None else announced
    if name is not None and total is not None and total >= PROGRESS_MIN_BYTES:
        progress = _DownloadProgress(name, total, origin)
    # read1 returns what has arrived (read waits for a full block), so a cut transfer counts every byte it got.
    read = getattr(response, "read1", response.read)
    try:
        while True:
            block = read(1 << 20)
            received += len(block)
            if size_bytes is not None and received > size_bytes:
                raise ValueError(f"the server sent more than the index's size_bytes ({size_bytes}); "
                                 "the download was stopped and deleted")
            file.write(block)
            if deadline.passed:
                raise TimeoutError("deadline")  # the connection was cut: what came is not the whole body
            if not block:
                break
            if progress is not None:
                progress.update(received)
    finally:
        if progress is not None:
            progress.close()
    return received


def _local_folder(base):
    """The folder a `file://` origin names, or None for a remote one (http(s)://, hf://)."""
    if not base.startswith("file://"):
        return None
    return urllib.request.url2pathname(urllib.parse.urlsplit(base).path)


def _offline_error(entry, directory, also_missing_from=None, damage=None):
    """The error for a model that is nowhere usable on this machine while downloads are forbidden.

    `damage` (from `_cached_copy_damage`) says the cache holds a copy that
    failed its check: that, not "not in the cache", is what the user must hear.
    """
    from kerasrnn.zoo.model_packages import model_package_name

    wheel = f'`pip install "{model_package_name(entry["task"])}"` or ' if isinstance(entry.get("task"), str) else ""
    if damage is not None:
        return ValueError(
            f"Zoo model {entry['name']!r}: the cached copy {damage[0]} is damaged ({damage[1]}) and KERASRNN_OFFLINE "
            "is set, so it cannot be fetched again: unset KERASRNN_OFFLINE to download it again (the damaged copy "
            f'is then replaced), or install its model wheel ({wheel}`pip install "kerasrnn[zoo]"`).'
        )
    where = f" nor in {also_missing_from}" if also_missing_from else ""
    return ValueError(
        f"Zoo model {entry['name']!r} is not in the cache ({directory}){where}, no installed model package holds it, "
        f'and KERASRNN_OFFLINE is set: install its model wheel ({wheel}`pip install "kerasrnn[zoo]"`), download it '
        "once with network access (`kerasrnn zoo download NAME`), or unset KERASRNN_OFFLINE."
    )


def _cached_copy_damage(entry, path):
    """None when the cached `path` matches the index; else `(path, which check failed)`."""
    size = os.path.getsize(path)
    if size != int(entry["size_bytes"]):
        return path, f"it has {size} bytes, the index says {entry['size_bytes']}"
    actual = sha256_of(path)
    if actual != entry["sha256"]:
        return path, f"its sha256 is {actual}, the index says {entry['sha256']}"
    return None


def cache_not_writable(folder, error):
    """The one-line error for a cache folder that cannot be created or written (read-only, not a folder).

    A `PermissionError`, which `kerasrnn` reports in one line with exit status 2.

    Args:
        folder: the folder that could not be written.
        error: the `OSError` that said so.

    Example:

    >>> str(cache_not_writable("/ro/models", OSError(30, "Read-only file system"))).split(":")[0]
    'The zoo cache folder /ro/models is not writable (Read-only file system)'
    """
    return PermissionError(
        f"The zoo cache folder {folder} is not writable ({error.strerror or error}): set KERASRNN_HOME to a "
        f"writable folder (the cache is then $KERASRNN_HOME/models), or install the model wheels "
        '(`pip install "kerasrnn[zoo]"`), which load without the cache.'
    )


def move_into_cache(path, target, folder):
    """Put a complete, verified file at its place in the cache, in one step (`os.replace`).

    A reader sees the old file or the new one, never a part; a cache that
    cannot be written is `cache_not_writable`'s one-line error.

    Args:
        path: the finished file (in the cache's partial folder, on the same file system).
        target: its place in the cache.
        folder: the cache folder, for the error.

    Example:

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> open(os.path.join(folder, "part"), "w").close()
    >>> move_into_cache(os.path.join(folder, "part"), os.path.join(folder, "model.keras"), folder)
    >>> sorted(os.listdir(folder))
    ['model.keras']
    """
    try:
        os.replace(path, target)
    except OSError as error:
        raise cache_not_writable(folder, error) from None


def _remove_stale_partials(directory):
    """Remove the `.partial-*` folders in `directory` whose download is over: their owner died (kill -9, a crash).

    A download holds a flock on its folder's lock file, which the kernel
    drops however the process ends, so a lock that can be taken marks a
    dead download, also across containers sharing a cache. A partial without
    a lock file (an older kerasrnn's) goes once it is a day old. Anything
    unreadable or in use is left alone.
    """
    try:
        names = [name for name in os.listdir(directory) if name.startswith(PARTIAL_PREFIX)]
    except OSError:
        return
    now = time.time()
    for name in names:
        folder = os.path.join(directory, name)
        lock_path = os.path.join(folder, PARTIAL_LOCK_FILE)
        try:
            if not os.path.isfile(lock_path) or fcntl is None:
                newest = max([os.path.getmtime(folder)] +
                             [os.path.getmtime(os.path.join(folder, entry)) for entry in os.listdir(folder)])
                if now - newest > UNLOCKED_PARTIAL_SECONDS:
                    shutil.rmtree(folder, ignore_errors=True)
                continue
            descriptor = os.open(lock_path, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # A young lock file may belong to a download that made it but has not locked it yet.
            if now - os.fstat(descriptor).st_mtime > PARTIAL_LOCK_GRACE_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass  # in use (BlockingIOError), or not ours to lock
        finally:
            os.close(descriptor)


@contextlib.contextmanager
def _sigterm_exits():
    """While a download runs in the main thread, SIGTERM raises SystemExit(143), so `finally` blocks run.

    Python's default for SIGTERM ends the process on the spot, leaving the
    partial folder behind. Only the default is replaced: a program (a server,
    a job runner) that handles SIGTERM itself keeps its handler, and another
    thread cannot install one.
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return

    def terminate(signum, frame):
        raise SystemExit(128 + signum)  # the status a shell reports for a process ended by SIGTERM

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def partial_folder(directory):
    """A new `.partial-*` folder in `directory` for one download; removed on any exit, SIGTERM included.

    Partials that killed downloads left in `directory` are removed first
    (see `_remove_stale_partials`), so kill -9 leaves nothing for ever. A
    folder that cannot be created or written is a one-line `PermissionError`
    naming it and KERASRNN_HOME.

    Args:
        directory: the cache folder (created if missing).

    Example:

    >>> import tempfile
    >>> cache = tempfile.mkdtemp()
    >>> with partial_folder(cache) as partial:
    ...     os.path.basename(partial).startswith(".partial-")
    True
    >>> os.listdir(cache)
    []
    """
    with _sigterm_exits():
        try:
            os.makedirs(directory, exist_ok=True)
            _remove_stale_partials(directory)
            partial = tempfile.mkdtemp(prefix=PARTIAL_PREFIX, dir=directory)
        except OSError as error:
            raise cache_not_writable(directory, error) from None
        descriptor = None
        try:
            descriptor = os.open(os.path.join(partial, PARTIAL_LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
            if fcntl is not None:
                fcntl.flock(descriptor, fcntl.LOCK_EX)  # fresh and ours: nobody else can hold it
            yield partial
        finally:
            shutil.rmtree(partial, ignore_errors=True)
            if descriptor is not None:
                os.close(descriptor)


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

    A download goes into a `.partial-*` folder beside the cache, stops as
    soon as it exceeds the index's `size_bytes` or its deadline
    (`download_timeout_seconds()`) passes, is verified, and only then
    renamed into place, so an interrupted, oversized, stalled or corrupted
    download is never used and never left in the cache (SIGTERM included;
    after a kill -9, the next download removes it). Downloads of a few MB or
    more say so on stderr. The entry's `file` must be a plain file name: one
    with folders, `..` or an absolute path is refused. A cache folder that
    cannot be written is a one-line `PermissionError` naming it; offline, a
    damaged cached copy is reported as damaged (which file, which check).

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
    damage = None
    if os.path.exists(target):
        damage = _cached_copy_damage(entry, target)
        if damage is None:
            return target
    try:
        base = (base_url or zoo_url()).rstrip("/")
    except ValueError:
        if offline:
            raise _offline_error(entry, directory, damage=damage) from None
        raise
    folder = _local_folder(base)
    if folder is not None:
        local = os.path.join(folder, file_name)
        if os.path.isfile(local):
            return _verified_local_file(entry, local, base)
        if offline:
            raise _offline_error(entry, directory, also_missing_from=folder, damage=damage)
        raise ValueError(f"Zoo model {entry['name']!r} is not in the zoo folder {folder}: {local} does not exist.")
    if offline:
        raise _offline_error(entry, directory, damage=damage)
    origin = f"{base}/{urllib.parse.quote(file_name)}"
    seconds = download_timeout_seconds()
    with partial_folder(directory) as partial:
        if damage is not None:
            try:
                os.remove(target)  # a stale or damaged copy: fetched again below
            except FileNotFoundError:
                pass  # another process replaced it meanwhile
            except OSError as error:
                raise cache_not_writable(directory, error) from None
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
                download_at_most(origin, downloaded, int(entry["size_bytes"]), name=entry["name"],
                                 deadline_seconds=seconds)
        except Exception as error:
            raise ValueError(f"Could not download zoo model {entry['name']!r} from {origin}: {error}") from error
        actual = sha256_of(downloaded)
        if actual != entry["sha256"]:
            raise ValueError(
                f"Checksum mismatch for zoo model {entry['name']!r} from {origin}: expected sha256 "
                f"{entry['sha256']}, got {actual}. The file was deleted; retry, or check KERASRNN_ZOO_URL "
                "points at an intact mirror."
            )
        move_into_cache(downloaded, target, directory)
    return target
