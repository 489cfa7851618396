"""Training glue: build the model from a spec, fit it with checkpoints, save the results."""

import contextlib
import contextvars
import functools
import json
import os
import re
import shutil

import keras
import tensorflow as tf

from kerasrnn.atomic_files import atomic_path, write_text
from kerasrnn.atomic_files import save_model as save_model_atomically
from kerasrnn.backup import AtomicBackupAndRestore
from kerasrnn.best_weights import KeepBestWeights
from kerasrnn.distribute import (
    DEFAULT_PEER_TIMEOUT,
    is_chief,
    multi_worker_fit,
    make_strategy,
    shard_by_data,
    worker_identity,
)
from kerasrnn.epoch_log import EpochLog, read_history
from kerasrnn.run_lock import RunLock
from kerasrnn.spec import build_from_spec, check_builder_options, load_spec, save_spec
from kerasrnn.tasks.model_parts import reset_states, stateful_copy
from kerasrnn.tasks.registry import get_task, task_names
from kerasrnn.tasks.task_model import length_bucketed_input
from kerasrnn.validation import check_open_unit_interval, check_positive_int

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
# The run-folder locks `train` holds, released when it returns or raises (`_releases_run_locks`).
_HELD_LOCKS = contextvars.ContextVar("kerasrnn_run_locks")


def write_json(data, path):
    """Write `data` as indented JSON, atomically: the previous file stays whole until the new one replaces it.

    Example:

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "metrics.json")
    >>> write_json({"loss": 1.5}, path)
    >>> json.load(open(path))
    {'loss': 1.5}
    """
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _releases_run_locks(function):
    # `train` takes the run folder's lock part way through its long body; the
    # lock is released here, however the body ends (return, error, Ctrl-C).
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


def _hold_run_lock(out_dir):
    # One writer per run folder: a second `train` into it is refused (RunFolderBusyError,
    # naming the PID) until the first ends; a dead process's lock is taken over.
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


class ResetStatesEachEpoch(keras.callbacks.Callback):
    """Start every epoch and every validation pass of a stateful model from a zero state.

    Example:

    >>> callback = ResetStatesEachEpoch()
    """

    def on_epoch_begin(self, epoch, logs=None):
        reset_states(self.model.network)

    def on_test_begin(self, logs=None):
        reset_states(self.model.network)


@_releases_run_locks
def train(
    task,
    data_path,
    out_dir,
    builder_options=None,
    data_options=None,
    epochs=1,
    batch_size=None,
    max_examples=None,
    seed=1337,
    tensorboard_dir=None,
    callbacks=None,
    verbose="auto",
    keep_best=False,
    patience=None,
    learning_rate_patience=None,
    learning_rate_factor=0.5,
    strategy=None,
    peer_timeout=DEFAULT_PEER_TIMEOUT,
    initial_weights=None,
    overwrite=False,
    **task_options,
):
    """Train a model for `task` on real data and write it to `out_dir`.

    Writes `model.keras` (the task model: `SentimentClassifier`, `PosTagger`
    or `CharLanguageModel`, vocabulary and labels inside), `spec.json` (the builder's arguments), `history.json`,
    `metrics.json` and `epochs.csv` (every epoch's metrics, kept across resumes). A checkpoint is kept in `out_dir/backup` after every
    epoch; running the same command again resumes from it.

    `run.json`, written when the run starts, records what identifies the run
    (`run_identity`: task, data, options). A folder is never reused silently:
    an interrupted run resumes only with the same identity, and a finished
    run (`model.keras`) or another run's folder is refused with a
    `ValueError`, before anything is read or written, unless `overwrite`.

    Crash safety: every file is written to a temporary name beside it,
    fsynced and renamed into place, so a kill, a crash or a full disk at any
    moment leaves the previous version whole. The last two checkpoints are
    kept (`AtomicBackupAndRestore`); a damaged newest one is set aside and the
    run resumes from the one before. The checkpoint is removed only once
    `model.keras` is in place. A full disk raises `DiskFullError` (a
    `ValueError`); the same call resumes once space is freed. One process at
    a time writes a run folder: another `train` into it raises
    `RunFolderBusyError` naming the PID (`RunLock`).

    Args:
        task: a task name from `kerasrnn.tasks.registry` (`"char_lm"`,
            `"sentiment"` or `"pos_tagger"`).
        data_path: the data file or folder the task's `prepare` reads.
        out_dir: where to write the results.
        builder_options: builder arguments (cell, units, optimizer, ...).
        data_options: extra arguments of the task's `prepare` (e.g. `seq_len`).
        epochs: passes over the training data.
        batch_size: examples per batch: the global batch, split between
            the replicas of a distribution strategy (default: the task's
            `batch_size`: 128 reviews, 32 sentences, 64 text streams).
        max_examples: train on a subset, for quick trials.
        seed: seeds weights, dropout and shuffling.
        tensorboard_dir: also log to TensorBoard there.
        callbacks: more Keras callbacks for `model.fit`.
        verbose: Keras' progress-bar setting.
        keep_best: save the weights of the epoch with the best validation
            score (the task's `monitor`: `val_loss` for the char LM,
            `val_accuracy` otherwise)
            rather than the last epoch's; the metrics are then that epoch's.
            The best epoch, its weights and the patience count are kept in
            `out_dir/best` until the run ends, so "best" ranges over every
            epoch of a run however often it was resumed.
        patience: with `keep_best`, stop after this many epochs without a
            better validation score (default: never stop early).
        learning_rate_patience: multiply the learning rate by
            `learning_rate_factor` after this many epochs without a better
            validation score (Keras' `ReduceLROnPlateau`; default: a
            constant learning rate). The current rate is an optimizer
            variable, so it survives a resume; the count of epochs without
            improvement starts again at 0.
        learning_rate_factor: the factor, in (0, 1).
        strategy: `"default"`, `"mirrored"` (every local GPU, or the
            logical CPUs), `"multi-worker"` (the cluster in `TF_CONFIG`), or
            a `tf.distribute.Strategy`. With several workers only the chief
            (`is_chief`) writes `out_dir`; the others keep their resumable
            backup in `out_dir/workertemp_<index>` and delete it at the end.
        peer_timeout: with `"multi-worker"`, seconds to wait for the peers.
        initial_weights: a `.weights.h5` file of the same network to start
            from instead of a random initialization (e.g. an encoder
            pretrained as a language model); a resumed run continues from
            its checkpoint instead.
        overwrite: replace whatever run `out_dir` holds: its files
            (`clear_run_folder`) are deleted once the data is read, and
            training starts afresh. Other files in the folder stay.
        **task_options: options of the task's own training (its
            `training_options`; sentiment: `adversarial` `"none"`, `"at"` or
            `"vat"`, `adversarial_epsilon`, `unlabeled`), part of the run's identity.

    Returns:
        The metrics dict written to `metrics.json`.

    Example:

    >>> train("pos_tagger", "../shared/data/ud-english-ewt", "/tmp/tagger",
    ...       {"units": 32}, max_examples=500)  # doctest: +SKIP
    """
    description = get_task(task)
    epochs = check_positive_int("epochs", epochs)
    batch_size = check_positive_int("batch_size", description.batch_size if batch_size is None else batch_size)
    requested_patience = patience  # the run's identity records what was asked, not the default it stands for
    patience = check_positive_int("patience", epochs if patience is None else patience)
    if learning_rate_patience is not None:
        learning_rate_patience = check_positive_int("learning_rate_patience", learning_rate_patience)
        learning_rate_factor = check_open_unit_interval("learning_rate_factor", learning_rate_factor)
    # First: a multi-worker strategy must configure TensorFlow before it runs anything.
    strategy = make_strategy(strategy, peer_timeout)
    chief = is_chief(strategy)
    replicas = strategy.num_replicas_in_sync
    check_builder_options(task, builder_options)  # before the data is read; the seed is set after it
    if task_options:
        unknown = sorted(set(task_options) - set(description.training_options))
        if unknown:
            raise ValueError(f"Unknown argument(s) {', '.join(unknown)} of `train` for task {task!r}.")
        description.model_class().check_training_options(**task_options)
    identity = run_identity(
        task, data_path, builder_options, data_options, initial_weights, epochs=epochs, batch_size=batch_size,
        max_examples=max_examples, seed=seed, keep_best=keep_best, patience=requested_patience,
        learning_rate_patience=learning_rate_patience, learning_rate_factor=learning_rate_factor, **task_options,
    )
    if chief:
        # Before the data is read: a refused run touches nothing. The other
        # workers follow the chief's decision (their folder may be local and empty).
        _hold_run_lock(out_dir)
        check_run_folder(out_dir, identity, overwrite)
    keras.utils.set_random_seed(seed)
    data = description.data().prepare(
        data_path, batch_size=batch_size, max_examples=max_examples, seed=seed, **(data_options or {})
    )
    spec = {"task": task, **(builder_options or {}), **data.spec_arguments}
    network_spec = dict(spec)
    if spec.get("stateful"):
        # Each replica carries the state of its own slice of the streams.
        if batch_size % replicas:
            raise ValueError(
                f"`batch_size` must be a multiple of the {replicas} replicas for a stateful model "
                f"(each carries batch_size / replicas streams). Received: batch_size={batch_size}"
            )
        network_spec["batch_size"] = batch_size // replicas
    task_type, task_index = worker_identity(strategy)
    # Only the chief writes `out_dir`; another worker keeps just its backup, in its own folder.
    backup_dir = os.path.join(out_dir, BACKUP_DIR if chief else f"workertemp_{task_index}")
    if overwrite:
        # Only now, with the data read and the options checked: a mistake in them keeps the old run.
        if chief:
            clear_run_folder(out_dir)
        else:
            for name in (f"workertemp_{task_index}", f"workertemp_{task_index}_best"):
                shutil.rmtree(os.path.join(out_dir, name), ignore_errors=True)
    if chief:
        os.makedirs(out_dir, exist_ok=True)
        write_json(identity, os.path.join(out_dir, RUN_FILE))
        with atomic_path(os.path.join(out_dir, SPEC_FILE)) as temporary:
            save_spec(spec, temporary)
    with strategy.scope():
        network = build_from_spec(network_spec)
        if initial_weights is not None:
            network.load_weights(initial_weights)
        model = description.model_class()(network, data.preprocessor)
    monitor, mode = description.monitor
    fit_callbacks = []
    if learning_rate_patience is not None:
        # Before BackupAndRestore: an epoch's checkpoint holds the rate this epoch decided.
        fit_callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor, factor=learning_rate_factor, patience=learning_rate_patience, mode=mode, verbose=1
            )
        )
    stateful = any(getattr(layer, "stateful", False) for layer in model.network.layers)
    if stateful:
        fit_callbacks.append(ResetStatesEachEpoch())
    if chief:
        # One row per finished epoch, appended across resumes (history.json
        # holds only the epochs of the last run): the whole validation curve.
        fit_callbacks.append(EpochLog(os.path.join(out_dir, EPOCHS_FILE)))
    if tensorboard_dir and chief:
        fit_callbacks.append(keras.callbacks.TensorBoard(tensorboard_dir))
    best = None
    if keep_best:
        best_dir = os.path.join(out_dir, BEST_DIR if chief else f"workertemp_{task_index}_best")
        if not os.path.isdir(backup_dir):
            shutil.rmtree(best_dir, ignore_errors=True)  # not a resume: no earlier best counts
        best = KeepBestWeights(best_dir, monitor, mode, patience)
        fit_callbacks.append(best)
    # Last: the checkpoint says an epoch is done only once its row and best
    # weights are written, so a Ctrl-C between them never loses an epoch's
    # record (at worst the epoch runs again and EpochLog replaces its row).
    # Kept when fit ends (Keras would delete it there): removed below, once model.keras is saved.
    backup = AtomicBackupAndRestore(backup_dir)
    fit_callbacks.append(backup)
    train_data, validation_data = data.train, data.validation
    if task_options:
        train_data = model.use_training_options(
            train_data, batch_size=batch_size, seed=seed, max_examples=max_examples, **task_options
        )
    if task_type is not None:
        train_data, validation_data = shard_by_data(train_data), shard_by_data(validation_data)
    with length_bucketed_input(), multi_worker_fit(model):
        history = model.fit(
            train_data,
            validation_data=validation_data,
            epochs=epochs,
            shuffle=False,  # the task's tf.data pipeline shuffles (or keeps TBPTT order)
            callbacks=fit_callbacks + list(callbacks or []),
            verbose=verbose,
        )
    history_data = {key: [float(value) for value in values] for key, values in history.history.items()}
    if not history_data and chief:
        # Every epoch was checkpointed by a process that died before saving the model:
        # its history, as far as it was written.
        history_data = _recorded_history(out_dir)
    # The saved weights are the best epoch's under keep_best (which may have
    # run before a resume, so its logs come from the callback), else the last's.
    reported = {key: values[-1] for key, values in history_data.items()}
    if best is not None and best.best_logs is not None:
        reported = dict(best.best_logs)
    metrics = {"task": task, "epochs": epochs, "train_examples": data.train_examples, **reported}
    if best is not None and best.best_epoch is not None:
        metrics["best_epoch"] = best.best_epoch + 1
    if replicas > 1:
        metrics["replicas"] = replicas
    if not chief:
        shutil.rmtree(backup_dir, ignore_errors=True)
        if best is not None:
            best.remove_files()
        return metrics
    write_json(history_data, os.path.join(out_dir, HISTORY_FILE))
    write_json(metrics, os.path.join(out_dir, METRICS_FILE))
    # Last, saved beside and renamed over: model.keras marks a finished run, so it is never half written.
    save_model_atomically(inference_model(model), os.path.join(out_dir, MODEL_FILE))
    # Only now: a crash before this line resumes from the checkpoint instead of training again.
    backup.remove_files()
    if best is not None:
        best.remove_files()  # the run is over: its best weights are model.keras
    return metrics


def _recorded_history(out_dir):
    # history.json if the dead process wrote it, else every epoch's row of epochs.csv.
    try:
        with open(os.path.join(out_dir, HISTORY_FILE), encoding="utf-8") as file:
            return json.load(file)
    except (OSError, ValueError):
        return read_history(os.path.join(out_dir, EPOCHS_FILE))


def inference_model(model):
    """A copy of a trained task model to save: same weights and compile settings, no optimizer state.

    A stateful network (truncated BPTT across batches) becomes stateless,
    with no fixed batch size, so the saved model reads any batch.

    Example:

    >>> inference_model(model).save("model.keras")  # doctest: +SKIP
    """
    network = model.network
    if any(getattr(layer, "stateful", False) for layer in network.layers):
        network = stateful_copy(network, None)
    else:
        network = keras.Model.from_config(network.get_config())
        network.set_weights(model.network.get_weights())
    copy = model.__class__(network, model.preprocessor, compile=False)
    # Same loss, metrics and optimizer configuration, and an optimizer not yet
    # built: the file holds no optimizer slots (a third of the size), and a
    # loaded model fine-tunes as the original would.
    copy.compile(**keras.saving.deserialize_keras_object(model.get_compile_config()))
    return copy


def load_trained(model_dir):
    """Load the task model and the spec from a folder `train` wrote (safe mode on).

    Example:

    >>> model, spec = load_trained("runs/sentiment")  # doctest: +SKIP
    """
    model_path = os.path.join(model_dir, MODEL_FILE)
    spec_path = os.path.join(model_dir, SPEC_FILE)
    for path in (model_path, spec_path):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} not found: give a folder written by `kerasrnn train`.")
    spec = load_spec(spec_path)
    if spec.get("task") in task_names():
        # Importing the task's model class registers it (and its layers) for deserialization;
        # the task packages are imported lazily, so nothing may have done it yet in this process.
        get_task(spec["task"]).model_class()
    try:
        model = keras.saving.load_model(model_path, safe_mode=True)
    except Exception as error:
        raise ValueError(f"{model_path}: not a loadable Keras model ({error}).") from error
    return model, spec
