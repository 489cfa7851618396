"""Write a model version into a TF Serving base path, atomically.

TF Serving (and `kerasrnn serve`) load an integer-named folder as soon as it
appears, so a version is built in a non-integer sibling (`temp-...`) and
renamed into place only when complete.
"""

import os
import shutil
import time

from kerasrnn.validation import check_positive_int

TEMP_PREFIX = "temp-"


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

    If `write` raises, the temporary folder is removed and nothing else changes.

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
    if version is None:
        version = next_version(base_path)
    final = os.path.join(base_path, str(version))
    if os.path.exists(final) and not overwrite:
        raise ValueError(
            f"Version {version} already exists at {final!r}: pass overwrite=True (--overwrite) to replace "
            f"it, or omit `version` to write version {next_version(base_path)}."
        )
    temporary = os.path.join(base_path, f"{TEMP_PREFIX}{time.time_ns()}-{os.getpid()}")
    try:
        write(temporary)
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
