"""Write a model version into a TF Serving base path, atomically.

TF Serving (and `kerasrnn serve`) load a version folder (an integer name, as
`kerasrnn.serving.saved_model_layout` defines it) as soon as it appears, so a
version is built in a non-integer sibling (`temp-...`) and renamed into place
only when complete. Several exports may run into one
base path at once: the version number is chosen, and the folder renamed,
under a lock on the base path, so each gets its own version and none
replaces another's unasked.

A base path that cannot be written is one line, `ExportFolderError` (a file
where the folder should be, a read-only filesystem, no permission), and a
full disk is one line too, `DiskFullError`; either way nothing is left behind.
"""

import contextlib
import dataclasses
import errno
import fcntl
import os
import re
import shutil
import time

from kerasrnn.atomic_files import disk_full, is_disk_full
from kerasrnn.serving.saved_model_layout import next_version
from kerasrnn.validation import check_positive_int

TEMP_PREFIX = "temp-"
_TEMPORARY = re.compile(rf"{TEMP_PREFIX}\d+-(\d+)(-replaced)?")


@dataclasses.dataclass
class WrittenVersion:
    """A version folder an export wrote: what every export returns, with its own fields after these.

    Attributes:
        path: the version folder (`base_path/<version>`).
        version: the integer version.
        task: `"sentiment"`, `"pos_tagger"` or `"char_lm"`.

    Example:

    >>> WrittenVersion("export/lm/1", 1, "char_lm").version
    1
    """

    path: str
    version: int
    task: str


class ExportFolderError(OSError, ValueError):
    """The export's base path cannot be written: a file is in the way, or the folder is read-only or forbidden.

    An `OSError` (with the cause's `errno`), and a `ValueError` so that the
    `kerasrnn` command reports it in one line with exit status 2.

    Example:

    >>> str(export_folder_error("/proc/export", OSError(errno.ENOENT, "No such file or directory")))
    "cannot write into '/proc/export' (No such file or directory)"
    """

    def __str__(self):
        return str(self.strerror)


# Errors that mean "this folder cannot be written", as opposed to a bug.
_REFUSED_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTDIR, errno.EEXIST)


def _file_in_the_way(path):
    # The first existing part of `path` (from the top) that is not a folder, if any.
    parts = os.path.abspath(path).split(os.sep)
    for count in range(2, len(parts) + 1):
        prefix = os.sep.join(parts[:count])
        if os.path.lexists(prefix) and not os.path.isdir(prefix):
            return prefix if os.path.isabs(path) else os.path.relpath(prefix)
        if not os.path.lexists(prefix):
            return None
    return None


def export_folder_error(base_path, error):
    """The one-line error for `error`, raised while writing under `base_path`; None if it is not a write refusal.

    A full disk becomes a `DiskFullError`; a file in the way, a read-only
    filesystem or a missing permission (raised by Python or by TensorFlow's
    file system, as `tf.errors.PermissionDeniedError`) an `ExportFolderError`.

    Args:
        base_path: the export's base path, as the user gave it.
        error: the exception.

    Example:

    >>> import tempfile
    >>> path = tempfile.mktemp()
    >>> _ = open(path, "w").write("a model, not a folder")
    >>> error = export_folder_error(os.path.join(path, "imdb"), NotADirectoryError(errno.ENOTDIR, "Not a directory"))
    >>> str(error) == f"{path!r} is a file, not a folder: give a folder such as 'export/NAME'"
    True
    """
    if is_disk_full(error):
        return disk_full(base_path)
    blocking = _file_in_the_way(base_path)
    if blocking is not None:
        return ExportFolderError(errno.ENOTDIR, f"{blocking!r} is a file, not a folder: give a folder such as 'export/NAME'")
    if isinstance(error, OSError) and error.errno in _REFUSED_ERRNOS:
        return ExportFolderError(error.errno, f"cannot write into {base_path!r} ({error.strerror})")
    if type(error).__name__ == "PermissionDeniedError":  # TensorFlow's, from its C++ file system
        reason = str(error).rsplit("; ", 1)[-1].strip()
        return ExportFolderError(errno.EACCES, f"cannot write into {base_path!r} ({reason})")
    return None


@contextlib.contextmanager
def _base_path_lock(base_path):
    # Held only while a version is chosen and renamed into place (milliseconds, never during the
    # export itself), so a concurrent export waits for it rather than taking the same number.
    # The kernel drops a flock when its process dies, kill -9 included. The lock is on the folder
    # itself (flock takes a directory's descriptor), so the base path holds nothing but versions.
    descriptor = os.open(base_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _process_is_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def remove_stale_temporaries(base_path):
    """Delete the `temp-...` folders of exports whose process is gone (killed mid-export).

    Returns the names removed.

    Example:

    >>> import subprocess, sys, tempfile
    >>> base = tempfile.mkdtemp()
    >>> dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
    ...                       capture_output=True, text=True).stdout.strip()
    >>> os.mkdir(os.path.join(base, f"temp-1-{dead}"))
    >>> os.mkdir(os.path.join(base, f"temp-2-{os.getpid()}"))
    >>> remove_stale_temporaries(base) == [f"temp-1-{dead}"]
    True
    """
    removed = []
    for name in sorted(os.listdir(base_path)):
        match = _TEMPORARY.fullmatch(name)
        if match and not _process_is_alive(int(match.group(1))):
            shutil.rmtree(os.path.join(base_path, name), ignore_errors=True)
            removed.append(name)
    return removed


def write_version(base_path, write, version=None, overwrite=False):
    """Build a version with `write(temp_dir)` and rename it to `base_path/<version>`.

    Args:
        base_path: the model's folder (`export/NAME`); created if missing.
        write: a function that fills the (not yet existing) folder it is given.
        version: a positive integer; None takes `next_version(base_path)`.
        overwrite: replace an existing version folder instead of refusing.

    Returns:
        The version written (an int).

    Raises:
        ValueError: bad `version`, or the version exists and `overwrite` is False.
        ExportFolderError: `base_path` cannot be written (a file in the way,
            a read-only filesystem, no permission).
        DiskFullError: the disk filled up; the versions from before are intact.

    If `write` raises, the temporary folder is removed and nothing else changes;
    the folders that exports killed mid-way left behind are removed by the
    next export. Concurrent exports without `version` get distinct versions.

    Example:

    >>> import tempfile
    >>> base = tempfile.mkdtemp()
    >>> write_version(base, lambda path: os.makedirs(path))
    1
    >>> write_version(base, lambda path: os.makedirs(path))
    2
    """
    if version is not None:
        version = check_positive_int("version", version)
    try:
        return _write_version(base_path, write, version, overwrite)
    except Exception as error:
        one_line = export_folder_error(base_path, error)
        if one_line is None:
            raise
        raise one_line from error


def _write_version(base_path, write, version, overwrite):
    os.makedirs(base_path, exist_ok=True)

    def refuse_existing(final):
        if os.path.exists(final) and not overwrite:
            raise ValueError(
                f"Version {version} already exists at {final!r}: pass overwrite=True (--overwrite) to replace "
                f"it, or omit `version` to write version {next_version(base_path)}."
            )

    if version is not None:
        refuse_existing(os.path.join(base_path, str(version)))  # before the export's work, not after
    temporary = os.path.join(base_path, f"{TEMP_PREFIX}{time.time_ns()}-{os.getpid()}")
    # A read-only or forbidden folder fails here at once, not after the seconds `write` spends tracing the model.
    os.mkdir(temporary)
    os.rmdir(temporary)
    try:
        write(temporary)
        with _base_path_lock(base_path):
            remove_stale_temporaries(base_path)
            if version is None:
                version = next_version(base_path)
            final = os.path.join(base_path, str(version))
            refuse_existing(final)  # again: another export may have written it meanwhile
            if os.path.exists(final):
                # rename() cannot replace a non-empty folder: move the old one
                # aside (to a name no server loads) first, delete it afterwards.
                retired = f"{temporary}-replaced"
                os.rename(final, retired)
                os.rename(temporary, final)
                shutil.rmtree(retired, ignore_errors=True)
            else:
                os.rename(temporary, final)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return version
