"""The trainer: build the model from a spec, fit it with checkpoints, save the results in a run folder."""

import os
import shutil

import keras

from kerasrnn.atomic_files import atomic_path
from kerasrnn.atomic_files import save_model as save_model_atomically
from kerasrnn.keras_adapter import multi_worker_fit
from kerasrnn.spec import build_from_spec, check_builder_options, load_spec, save_spec
from kerasrnn.tasks.model_parts import reset_states, stateful_copy
from kerasrnn.tasks.registry import get_task, task_names
from kerasrnn.tasks.task_model import length_bucketed_input
from kerasrnn.training.backup import AtomicBackupAndRestore
from kerasrnn.training.best_weights import KeepBestWeights
from kerasrnn.training.distribute import (
    DEFAULT_PEER_TIMEOUT,
    is_chief,
    make_strategy,
    shard_by_data,
    worker_identity,
)
from kerasrnn.training.epoch_log import EpochLog
from kerasrnn.training.run_folder import (
    BACKUP_DIR,
    BEST_DIR,
    EPOCHS_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    MODEL_FILE,
    RUN_FILE,
    SPEC_FILE,
    check_run_folder,
    clear_run_folder,
    hold_run_lock,
    recorded_history,
    releases_run_locks,
    run_identity,
    write_json,
)
from kerasrnn.validation import check_open_unit_interval, check_positive_int


class ResetStatesEachEpoch(keras.callbacks.Callback):
    """Start every epoch and every validation pass of a stateful model from a zero state.

    Example:

    >>> callback = ResetStatesEachEpoch()
    """

    def on_epoch_begin(self, epoch, logs=None):
        reset_states(self.model.network)

    def on_test_begin(self, logs=None):
        reset_states(self.model.network)



@releases_run_locks
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
        hold_run_lock(out_dir)
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
        history_data = recorded_history(out_dir)
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
