"""`RunLock`: one writer per run folder, so two trainings never interleave their checkpoints and files."""

import contextlib
import fcntl
import os

LOCK_FILE = "train.lock"


class RunFolderBusyError(ValueError):
    """Another live process holds the run folder's lock (a `ValueError`: `kerasrnn` reports it in one line, exit 2)."""


class RunLock:
    """An advisory lock on a run folder: `fcntl.flock` on `folder/train.lock`, which holds the owner's PID.

    The kernel releases a `flock` when its process dies, however it dies
    (kill -9 included), so a lock file left by a dead process is simply
    taken over; the PID inside is only there to name the owner in the
    refusal. The file is removed on release.

    Args:
        folder: the run folder (it must exist).

    Raises:
        RunFolderBusyError: on `acquire`, when another process holds the lock.

    Example:

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with RunLock(folder):
    ...     int(open(os.path.join(folder, LOCK_FILE)).read()) == os.getpid()
    True
    >>> os.path.exists(os.path.join(folder, LOCK_FILE))
    False
    """

    def __init__(self, folder):
        self.folder = os.fspath(folder)
        self.path = os.path.join(self.folder, LOCK_FILE)
        self._descriptor = None

    def acquire(self):
        """Take the lock without waiting; returns self."""
        while True:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _read_pid(descriptor)
                os.close(descriptor)
                raise RunFolderBusyError(
                    f"{self.folder} is in use by another training (PID {owner}, lock file {self.path}); "
                    "wait for it to finish, or give another --out folder."
                ) from None
            except BaseException:
                os.close(descriptor)
                raise
            # The owner before us removes the file on release: if it did so between our
            # open and our flock, we hold a lock on a deleted file, which nobody else sees.
            try:
                current = os.stat(self.path)
            except FileNotFoundError:
                current = None
            if current is not None and os.path.samestat(current, os.fstat(descriptor)):
                break
            os.close(descriptor)
        try:
            os.ftruncate(descriptor, 0)
            os.write(descriptor, f"{os.getpid()}\n".encode())
        except OSError:
            pass  # a full disk: the lock holds all the same, a refusal just cannot name us
        self._descriptor = descriptor
        return self

    def release(self):
        """Remove the lock file and release the lock (idempotent)."""
        if self._descriptor is None:
            return
        with contextlib.suppress(OSError):
            os.remove(self.path)  # while still holding the lock: no one can have taken it meanwhile
        os.close(self._descriptor)  # closing the descriptor releases the flock
        self._descriptor = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()


def _read_pid(descriptor):
    # The PID the owner wrote; "unknown" while it has locked but not yet written it.
    try:
        text = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"
