"""The run folder `train` writes: its file names, `run.json` (which run it holds), its lock, its clean-up.

A run folder holds one training run: `run.json` (the run's identity, written
first), `epochs.csv`, the checkpoint in `backup/` and the best epoch in
`best/` while it runs, and `model.keras`, `spec.json`, `history.json`,
`metrics.json` once it is finished. A folder is never reused silently: an
interrupted run resumes only with the same identity (`check_run_folder`).

Example:

>>> import tempfile
>>> check_run_folder(tempfile.mkdtemp(), run_identity("char_lm", "input.txt"))
False
"""

import contextlib
import contextvars
import functools
import json
import os
import re
import shutil

from kerasrnn.atomic_files import write_text
from kerasrnn.training.epoch_log import read_history
from kerasrnn.training.run_lock import RunLock


MODEL_FILE = "model.keras"
SPEC_FILE = "spec.json"
EPOCHS_FILE = "epochs.csv"
HISTORY_FILE = "history.json"
METRICS_FILE = "metrics.json"
RUN_FILE = "run.json"
BACKUP_DIR = "backup"
BEST_DIR = "best"
# Everything `train` writes in a run folder, and only that: `overwrite=True`
# removes these and leaves any other file (TensorBoard logs, a recipe's
# pretraining, the user's own notes) where it is.
RUN_FILES = (MODEL_FILE, SPEC_FILE, EPOCHS_FILE, HISTORY_FILE, METRICS_FILE, RUN_FILE)
RUN_FOLDERS = (BACKUP_DIR, BEST_DIR)
# Half-written files an interrupted write leaves beside them (`atomic_files.partial_path`,
# and the names of older versions), and the other workers' backups.
_LEFTOVER_NAME = re.compile(
    r"^(partial\.(model\.keras|(spec|history|metrics|run)\.json|epochs\.csv)"
    r"|(history|metrics|run)\.json\.tmp|epochs\.csv\.partial|workertemp_\d+(_best)?)$"
)
# The run-folder locks `train` holds, released when it returns or raises (`releases_run_locks`).
_HELD_LOCKS = contextvars.ContextVar("kerasrnn_run_locks")


def write_json(data, path):
    """Write `data` as indented JSON, atomically: the previous file stays whole until the new one replaces it.

    Args:
        data: a JSON-ready value.
        path: the file to write.

    Example:

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "metrics.json")
    >>> write_json({"loss": 1.5}, path)
    >>> json.load(open(path))
    {'loss': 1.5}
    """
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def releases_run_locks(function):
    """Decorate `function` so that every run-folder lock it takes (`hold_run_lock`) is released when it ends.

    `train` takes the run folder's lock part way through its long body; the
    lock is released here, however the body ends (return, error, Ctrl-C). A
    folder the lock created is removed again if it is still empty (a run
    refused or failed before writing anything).

    Args:
        function: the function that calls `hold_run_lock`.

    Returns:
        The decorated function.

    Example:

    >>> import tempfile
    >>> folder = os.path.join(tempfile.mkdtemp(), "run")
    >>> @releases_run_locks
    ... def refused():
    ...     hold_run_lock(folder)
    ...     return os.path.exists(os.path.join(folder, "train.lock"))
    >>> refused(), os.path.exists(folder)
    (True, False)
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        held = []
        token = _HELD_LOCKS.set(held)
        try:
            return function(*args, **kwargs)
        finally:
            _HELD_LOCKS.reset(token)
            for lock, created in reversed(held):
                lock.release()
                if created:
                    with contextlib.suppress(OSError):
                        os.rmdir(lock.folder)  # only if still empty: a run refused or failed before writing

    return wrapper


def hold_run_lock(out_dir):
    """Take `out_dir`'s `RunLock` until the enclosing `releases_run_locks` function ends.

    One writer per run folder: a second `train` into it is refused
    (`RunFolderBusyError`, naming the PID) until the first ends; a dead
    process's lock is taken over. A path that is a file is left alone
    (`check_run_folder` refuses it).

    Args:
        out_dir: the run folder, created if missing.

    Raises:
        RunFolderBusyError: another live process holds the lock.

    Example:

    >>> import tempfile
    >>> releases_run_locks(hold_run_lock)(tempfile.mkdtemp())  # taken, then released
    """
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        return  # check_run_folder refuses it
    created = not os.path.isdir(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    lock = RunLock(out_dir).acquire()
    _HELD_LOCKS.get().append((lock, created))


def run_identity(task, data_path, builder_options=None, data_options=None, initial_weights=None, **training_options):
    """What makes two trainings the same run: the dict `train` records in `run.json`.

    A run folder is resumed only by a call with the same identity: the same
    task, data, builder and data options, starting weights and training
    options (epochs, batch size, subset, seed, best-epoch and learning-rate
    settings). Paths are made absolute, so the same command resumes from
    another working directory. How the run is carried out (verbosity,
    callbacks, TensorBoard, distribution strategy) is not part of it.

    Args:
        task: the task name.
        data_path: the data file or folder.
        builder_options: builder arguments (a dict, or None).
        data_options: the task's `prepare` arguments (a dict, or None).
        initial_weights: the weights file training starts from, or None.
        **training_options: `epochs`, `batch_size`, `max_examples`, `seed`,
            `keep_best`, `patience`, `learning_rate_patience`, `learning_rate_factor`.

    Returns:
        A JSON-ready dict.

    Example:

    >>> identity = run_identity("char_lm", "input.txt", {"units": 32}, epochs=2, seed=1)
    >>> identity["task"], identity["builder_options"], identity["training"]
    ('char_lm', {'units': 32}, {'epochs': 2, 'seed': 1})
    >>> os.path.isabs(identity["data"])
    True
    """

    def absolute(path):
        return None if path is None else os.path.abspath(os.fspath(path))

    identity = {
        "task": task,
        "data": absolute(data_path),
        "builder_options": dict(builder_options or {}),
        "data_options": dict(data_options or {}),
        "initial_weights": absolute(initial_weights),
        "training": dict(training_options),
    }
    # As read back from run.json (tuples become lists, numpy scalars plain numbers), so that equal means equal.
    return json.loads(json.dumps(identity, default=str))


def check_run_folder(out_dir, identity, overwrite=False):
    """Refuse to train into a folder that holds another run, or a finished one; say whether training resumes.

    A folder may hold nothing of kerasrnn's (training starts afresh), an
    interrupted run with the same `run_identity` (training resumes from its
    checkpoint in `out_dir/backup`), an interrupted run with another identity,
    or a finished run (`model.keras`). The last two are refused, so a new run
    never mixes its epochs, checkpoint or model with an earlier one's; with
    `overwrite` anything goes (`clear_run_folder` then removes the old run).
    A folder from before `run.json` existed that holds no model resumes as it did then.

    Args:
        out_dir: the run folder (it need not exist).
        identity: this run's `run_identity`.
        overwrite: accept any folder: the caller replaces the old run.

    Returns:
        True when `out_dir` holds an interrupted run of this identity, else False.

    Raises:
        ValueError: the folder holds a finished run or another run (one line
            naming the remedy); `out_dir` is a file.

    Example:

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> check_run_folder(folder, run_identity("char_lm", "input.txt"))
    False
    >>> open(os.path.join(folder, "model.keras"), "w").close()
    >>> check_run_folder(folder, run_identity("char_lm", "input.txt"))
    Traceback (most recent call last):
    ...
    ValueError: ... already holds a finished run (model.keras); give another --out folder, or --overwrite to replace it.
    >>> check_run_folder(folder, run_identity("char_lm", "input.txt"), overwrite=True)
    False
    """
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"--out: {out_dir} is a file; give a folder for the run's files.")
    if overwrite or not os.path.isdir(out_dir):
        return False
    remedy = "give another --out folder, or --overwrite to replace it"
    if os.path.exists(os.path.join(out_dir, MODEL_FILE)):
        raise ValueError(f"{out_dir} already holds a finished run ({MODEL_FILE}); {remedy}.")
    recorded = _read_run_file(out_dir)
    if recorded is not None and recorded != identity:
        changes = "; ".join(
            f"{name}: {there} there, {here} here" for name, there, here in _differences(recorded, identity)
        )
        raise ValueError(
            f"{out_dir} holds an unfinished run with other settings ({changes}); "
            f"run its own command again to resume it, or {remedy}."
        )
    return os.path.isdir(os.path.join(out_dir, BACKUP_DIR))


def clear_run_folder(out_dir):
    """Delete the files `train` wrote in `out_dir` (model, JSON files, epochs.csv, checkpoints), nothing else.

    The folder itself and any file kerasrnn did not write stay.

    Args:
        out_dir: a run folder (it need not exist).

    Example:

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for name in ("model.keras", "metrics.json", "notes.txt"):
    ...     open(os.path.join(folder, name), "w").close()
    >>> os.makedirs(os.path.join(folder, "backup"))
    >>> clear_run_folder(folder)
    >>> os.listdir(folder)
    ['notes.txt']
    """
    if not os.path.isdir(out_dir):
        return
    for name in os.listdir(out_dir):
        if name not in RUN_FILES + RUN_FOLDERS and not _LEFTOVER_NAME.match(name):
            continue
        path = os.path.join(out_dir, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def checkpointed_epochs(out_dir):
    """How many epochs the checkpoint in `out_dir/backup` holds: where a resumed run starts (0 without one).

    Args:
        out_dir: a run folder (it need not exist).

    Example:

    >>> import tempfile
    >>> checkpointed_epochs(tempfile.mkdtemp())
    0
    """
    path = os.path.join(out_dir, BACKUP_DIR, "training_metadata.json")
    try:
        with open(path, encoding="utf-8") as file:
            return int(json.load(file)["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def _read_run_file(out_dir):
    path = os.path.join(out_dir, RUN_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except (OSError, ValueError) as error:
        raise ValueError(
            f"{path} is unreadable ({error}); give another --out folder, or --overwrite to replace the run."
        ) from error


def _differences(there, here, prefix=""):
    # (dotted name, value there, value here) for every setting that differs; nested dicts by key.
    for key in sorted(set(there) | set(here), key=str):
        name = f"{prefix}{key}"
        old, new = there.get(key, "unset"), here.get(key, "unset")
        if isinstance(old, dict) and isinstance(new, dict):
            yield from _differences(old, new, f"{name}.")
        elif old != new:
            yield name, json.dumps(old) if old != "unset" else old, json.dumps(new) if new != "unset" else new


def recorded_history(out_dir):
    """The history of a run whose process died after its last checkpoint, as far as it was written.

    `history.json` if the dead process wrote it, else every epoch's row of `epochs.csv`.

    Args:
        out_dir: the run folder.

    Returns:
        A dict from metric name to its list of per-epoch values.

    Example:

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> write_json({"loss": [2.0, 1.5]}, os.path.join(folder, HISTORY_FILE))
    >>> recorded_history(folder)
    {'loss': [2.0, 1.5]}
    """
    try:
        with open(os.path.join(out_dir, HISTORY_FILE), encoding="utf-8") as file:
            return json.load(file)
    except (OSError, ValueError):
        return read_history(os.path.join(out_dir, EPOCHS_FILE))
