"""Write a model version into a TF Serving base path, atomically.

TF Serving (and `kerasrnn serve`) load an integer-named folder as soon as it
appears, so a version is built in a non-integer sibling (`temp-...`) and
renamed into place only when complete. Several exports may run into one
base path at once: the version number is chosen, and the folder renamed,
under a lock on the base path, so each gets its own version and none
replaces another's unasked.
"""

import contextlib
import fcntl
import os
import re
import shutil
import time

from kerasrnn.validation import check_positive_int

TEMP_PREFIX = "temp-"
_TEMPORARY = re.compile(rf"{TEMP_PREFIX}\d+-(\d+)(-replaced)?")


def existing_versions(base_path):
    """The integer version folders under `base_path`, sorted (none if it does not exist).

    Example:

    >>> existing_versions("/no/such/path")
    []
    >>> import tempfile
    >>> base = tempfile.mkdtemp()
    >>> for name in ("1", "12", "\u00b2", "temp-3"):
    ...     os.mkdir(os.path.join(base, name))
    >>> existing_versions(base)  # "²" is a digit to str.isdigit, not a version
    [1, 12]
    """
    if not os.path.isdir(base_path):
        return []
    return sorted(
        int(name)
        for name in os.listdir(base_path)
        # ASCII digits only: "²".isdigit() is True but int("²") raises, as TF Serving ignores such folders.
        if name.isascii() and name.isdigit() and os.path.isdir(os.path.join(base_path, name))
    )


def next_version(base_path):
    """One more than the highest existing version, or 1.

    Example:

    >>> next_version("/no/such/path")
    1
    """
    versions = existing_versions(base_path)
    return versions[-1] + 1 if versions else 1


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
