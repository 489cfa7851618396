"""Atomic file writes: a reader, or a rerun after a crash, finds the old file or the new one, never half of one.

Every write goes to a temporary file beside the target (`partial.<name>`,
same folder, so the rename never crosses a filesystem), is flushed and
fsynced, and then `os.replace`s the target; the folder is fsynced so the
rename itself survives a power cut. Until the rename the previous file stays
as it was. A full disk (`ENOSPC`, `EDQUOT`) becomes a `DiskFullError`: one
line naming the file, with the temporary file removed so the space it took is
free again.
"""

import contextlib
import errno
import math
import os

import numpy as np

PARTIAL_PREFIX = "partial."
_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class DiskFullError(OSError, ValueError):
    """No space left on the device while writing a file; the files from before are intact.

    An `OSError` (its `errno` is `ENOSPC`), and a `ValueError` so that the
    `kerasrnn` command reports it in one line with exit status 2.

    Example:

    >>> error = DiskFullError(errno.ENOSPC, "no space left on the device writing run/model.keras")
    >>> error.errno == errno.ENOSPC, isinstance(error, ValueError)
    (True, True)
    """

    def __str__(self):
        return str(self.strerror)


def disk_full(path, cause=None):
    """The `DiskFullError` for a write of `path` that ran out of space.

    Example:

    >>> str(disk_full("run/history.json"))
    'no space left on the device writing run/history.json; the files from before are intact: free some space and run the same command again'
    """
    detail = f" ({cause})" if cause else ""
    return DiskFullError(
        errno.ENOSPC,
        f"no space left on the device writing {path}{detail}; the files from before are intact: "
        "free some space and run the same command again",
    )


def is_disk_full(error):
    """Whether `error` (or an error it was raised from) is a full disk or quota.

    h5py reports the C library's failure in its message only, so the message is read too.

    Example:

    >>> is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    True
    >>> is_disk_full(OSError(errno.ENOENT, "No such file or directory"))
    False
    """
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, DiskFullError):
            return True
        if isinstance(error, OSError) and error.errno in _DISK_FULL_ERRNOS:
            return True
        if "No space left on device" in str(error) or "errno = 28," in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def partial_path(path):
    """The temporary name `path` is written under before it is renamed into place.

    The name keeps the suffix (Keras checks `.keras` and `.weights.h5`) and
    is fixed, so an interrupted write is replaced by the next one rather than piling up.

    Example:

    >>> partial_path(os.path.join("run", "model.keras")) == os.path.join("run", "partial.model.keras")
    True
    """
    folder, name = os.path.split(os.fspath(path))
    return os.path.join(folder, PARTIAL_PREFIX + name)


def fsync_folder(folder):
    """Make a rename in `folder` durable (where the filesystem supports it)."""
    try:
        descriptor = os.open(folder or ".", os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some filesystems (and Windows) cannot fsync a folder; the rename is still atomic
    finally:
        os.close(descriptor)


def fsync_file(path):
    """Flush a file another library wrote and closed (h5py, Keras) to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path to write; on success it replaces `path`, on any failure it is removed.

    The caller writes the temporary file completely (and closes it); the
    file is then fsynced and renamed over `path`. If the block raises
    (including `KeyboardInterrupt`) or the disk is full, `path` is left as
    it was.

    Args:
        path: the file to (re)write.

    Raises:
        DiskFullError: the disk or quota was full.

    Example:

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
    >>> with atomic_path(path) as temporary:
    ...     with open(temporary, "w") as file:
    ...         _ = file.write("first")
    >>> open(path).read()
    'first'
    """
    path = os.fspath(path)
    temporary = partial_path(path)
    try:
        yield temporary
        fsync_file(temporary)
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        if is_disk_full(error) and not isinstance(error, DiskFullError):
            raise disk_full(path) from error
        raise
    fsync_folder(os.path.dirname(path))


def write_bytes(path, data):
    """Write `data` to `path` atomically.

    Example:

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "blob.bin")
    >>> write_bytes(path, b"abc")
    >>> open(path, "rb").read()
    b'abc'
    """
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()


def write_text(path, text):
    """Write `text` (UTF-8) to `path` atomically.

    Example:

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "epochs.csv")
    >>> write_text(path, "epoch,loss\\n0,1.5\\n")
    >>> open(path).read()
    'epoch,loss\\n0,1.5\\n'
    """
    write_bytes(path, text.encode("utf-8"))


def save_model(model, path):
    """Save a Keras model as `.keras` atomically: an interruption or a full disk keeps the previous file.

    Keras builds the weights in memory and writes the zip archive with
    Python's file I/O, so a full disk is an `OSError`; the free space is
    checked first all the same, for the case where Keras lets h5py write to
    the disk (a model larger than the free memory), as h5py crashes the
    process when the disk fills under it.

    Example:

    >>> import keras, tempfile
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
    >>> save_model(model, path)
    >>> keras.saving.load_model(path).count_params()
    3
    """
    check_free_space(path, h5_size_bound(model.weights))
    with atomic_path(path) as temporary:
        model.save(temporary)


def check_free_space(path, needed):
    """Raise `DiskFullError` unless the filesystem holding `path` has `needed` bytes free for this user.

    Used before h5py writes a file: h5py does not raise on a full disk, it crashes the process.

    Example:

    >>> import tempfile
    >>> check_free_space(tempfile.mkdtemp(), 1)
    """
    folder = os.path.dirname(os.path.abspath(path)) if not os.path.isdir(path) else path
    try:
        stats = os.statvfs(folder)
    except (OSError, AttributeError):
        return  # no statvfs (Windows) or an unreadable folder: the write itself reports
    free = stats.f_bavail * stats.f_frsize
    if free < needed:
        raise disk_full(path, f"{_size(needed)} needed, {_size(free)} free")


def _size(count):
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024


def h5_size_bound(variables):
    """An upper bound of the size of the HDF5 file holding `variables` (Keras weights).

    The values, plus HDF5's headers (about 1.2 KiB a variable measured; 4 KiB
    allowed) and its superblock.

    Example:

    >>> import keras
    >>> h5_size_bound([keras.Variable(np.zeros((256, 256), "float32"))])
    344883
    """
    values = sum(math.prod(variable.shape) * _itemsize(variable.dtype) for variable in variables)
    return int(values * 1.05) + 4096 * len(variables) + 65536


def _itemsize(dtype):
    try:
        return np.dtype(str(dtype).replace("tf.", "")).itemsize
    except TypeError:
        return 8  # a dtype numpy does not know (bfloat16): over-estimate
