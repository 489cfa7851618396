"""The trainer: build the model from a spec, fit it with checkpoints, save the results in a run folder."""

import os
import shutil

import keras

from kerasrnn.atomic_files import atomic_path
from kerasrnn.atomic_files import save_model as save_model_atomically
from kerasrnn.keras_adapter import multi_worker_fit
from kerasrnn.tasks.model_spec import build_from_spec, check_builder_options, load_spec, optimizer_from_spec, save_spec
from kerasrnn.tasks.registry import get_task, task_names
from kerasrnn.tasks.task_model import length_bucketed_input
from kerasrnn.training.backup import AtomicBackupAndRestore
from kerasrnn.training.best_weights import KeepBestWeights
from kerasrnn.training.config import TrainingConfig
from kerasrnn.training.distribute import (
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


def train(
    task,
    data_path,
    out_dir,
    builder_options=None,
    data_options=None,
    epochs=TrainingConfig.epochs,
    batch_size=None,
    max_examples=None,
    seed=TrainingConfig.seed,
    tensorboard_dir=None,
    callbacks=None,
    verbose=TrainingConfig.verbose,
    keep_best=False,
    patience=None,
    learning_rate_patience=None,
    learning_rate_factor=TrainingConfig.learning_rate_factor,
    strategy=None,
    peer_timeout=TrainingConfig.peer_timeout,
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
    # A Strategy object is not plain data: it stays beside the config.
    named = strategy is None or isinstance(strategy, str)
    config = TrainingConfig(
        task, data_path, out_dir, dict(builder_options or {}), dict(data_options or {}), epochs=epochs,
        batch_size=batch_size, max_examples=max_examples, seed=seed, keep_best=keep_best, patience=patience,
        learning_rate_patience=learning_rate_patience, learning_rate_factor=learning_rate_factor,
        initial_weights=initial_weights, task_options=dict(task_options), tensorboard_dir=tensorboard_dir,
        verbose=verbose, strategy=(strategy or "default") if named else "default", peer_timeout=peer_timeout,
        overwrite=overwrite,
    )
    return run_training(config, callbacks=callbacks, strategy=None if named else strategy)


@releases_run_locks
def run_training(config, callbacks=None, strategy=None):
    """Train the run `config` describes: what `train` does, for a `TrainingConfig` (see `train`).

    Args:
        config: a `TrainingConfig`; options it leaves to the task take the task's defaults.
        callbacks: more Keras callbacks for `model.fit`.
        strategy: a `tf.distribute.Strategy` to use instead of `config.strategy` (a name), or None.

    Returns:
        The metrics dict written to `metrics.json`.

    Example:

    >>> config = TrainingConfig("pos_tagger", "../shared/data/ud-english-ewt", "/tmp/tagger", max_examples=500)
    >>> run_training(config)  # doctest: +SKIP
    """
    # First the task (an unknown one is named), then every number, before anything is read.
    config = config.with_task_defaults().check()
    description = get_task(config.task)
    patience = config.epochs if config.patience is None else config.patience
    # First: a multi-worker strategy must configure TensorFlow before it runs anything.
    strategy = make_strategy(config.strategy if strategy is None else strategy, config.peer_timeout)
    chief = is_chief(strategy)
    replicas = strategy.num_replicas_in_sync
    check_builder_options(config.task, config.builder_options)  # before the data is read; the seed is set after it
    if config.task_options:
        unknown = sorted(set(config.task_options) - set(description.training_options))
        if unknown:
            raise ValueError(f"Unknown argument(s) {', '.join(unknown)} of `train` for task {config.task!r}.")
        description.model_class().check_training_options(**config.task_options)
    identity = run_identity(
        config.task, config.data_path, config.builder_options, config.data_options, config.initial_weights,
        epochs=config.epochs, batch_size=config.batch_size, max_examples=config.max_examples, seed=config.seed,
        keep_best=config.keep_best, patience=config.patience, learning_rate_patience=config.learning_rate_patience,
        learning_rate_factor=config.learning_rate_factor, **config.task_options,
    )
    if chief:
        # Before the data is read: a refused run touches nothing. The other
        # workers follow the chief's decision (their folder may be local and empty).
        hold_run_lock(config.out_dir)
        check_run_folder(config.out_dir, identity, config.overwrite)
    keras.utils.set_random_seed(config.seed)
    data = description.data().prepare(
        config.data_path, batch_size=config.batch_size, max_examples=config.max_examples, seed=config.seed,
        **config.data_options,
    )
    spec = {"task": config.task, **config.builder_options, **data.spec_arguments}
    network_spec = dict(spec)
    if spec.get("batch_size") is not None:
        # A network with a fixed batch (a stateful one carries the state of
        # each stream): each replica builds it for its own slice of the batch.
        if config.batch_size % replicas:
            raise ValueError(
                f"`batch_size` must be a multiple of the {replicas} replicas for a network with a fixed batch "
                f"(a stateful model: each replica carries batch_size / replicas streams). "
                f"Received: batch_size={config.batch_size}"
            )
        network_spec["batch_size"] = config.batch_size // replicas
    task_type, task_index = worker_identity(strategy)
    # Only the chief writes `out_dir`; another worker keeps just its backup, in its own folder.
    backup_dir = os.path.join(config.out_dir, BACKUP_DIR if chief else f"workertemp_{task_index}")
    if config.overwrite:
        # Only now, with the data read and the options checked: a mistake in them keeps the old run.
        if chief:
            clear_run_folder(config.out_dir)
        else:
            for name in (f"workertemp_{task_index}", f"workertemp_{task_index}_best"):
                shutil.rmtree(os.path.join(config.out_dir, name), ignore_errors=True)
    if chief:
        os.makedirs(config.out_dir, exist_ok=True)
        write_json(identity, os.path.join(config.out_dir, RUN_FILE))
        with atomic_path(os.path.join(config.out_dir, SPEC_FILE)) as temporary:
            save_spec(spec, temporary)
    with strategy.scope():
        # Compiled once: the task model, with the task's loss and metrics and the spec's optimizer.
        network = build_from_spec(network_spec, compile=False)
        if config.initial_weights is not None:
            network.load_weights(config.initial_weights)
        model = description.model_class()(network, data.preprocessor, compile=False)
        model.compile(optimizer=optimizer_from_spec(network_spec))
    monitor, mode = description.monitor
    fit_callbacks = []
    if config.learning_rate_patience is not None:
        # Before BackupAndRestore: an epoch's checkpoint holds the rate this epoch decided.
        fit_callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor, factor=config.learning_rate_factor, patience=config.learning_rate_patience, mode=mode,
                verbose=1,
            )
        )
    fit_callbacks.extend(model.training_callbacks())  # what the task's own training needs
    if chief:
        # One row per finished epoch, appended across resumes (history.json
        # holds only the epochs of the last run): the whole validation curve.
        fit_callbacks.append(EpochLog(os.path.join(config.out_dir, EPOCHS_FILE)))
    if config.tensorboard_dir and chief:
        fit_callbacks.append(keras.callbacks.TensorBoard(config.tensorboard_dir))
    best = None
    if config.keep_best:
        best_dir = os.path.join(config.out_dir, BEST_DIR if chief else f"workertemp_{task_index}_best")
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
    if config.task_options:
        train_data = model.use_training_options(
            train_data, batch_size=config.batch_size, seed=config.seed, max_examples=config.max_examples,
            **config.task_options,
        )
    if task_type is not None:
        train_data, validation_data = shard_by_data(train_data), shard_by_data(validation_data)
    with length_bucketed_input(), multi_worker_fit(model):
        history = model.fit(
            train_data,
            validation_data=validation_data,
            epochs=config.epochs,
            shuffle=False,  # the task's tf.data pipeline shuffles (or keeps TBPTT order)
            callbacks=fit_callbacks + list(callbacks or []),
            verbose=config.verbose,
        )
    history_data = {key: [float(value) for value in values] for key, values in history.history.items()}
    if not history_data and chief:
        # Every epoch was checkpointed by a process that died before saving the model:
        # its history, as far as it was written.
        history_data = recorded_history(config.out_dir)
    # The saved weights are the best epoch's under keep_best (which may have
    # run before a resume, so its logs come from the callback), else the last's.
    reported = {key: values[-1] for key, values in history_data.items()}
    if best is not None and best.best_logs is not None:
        reported = dict(best.best_logs)
    metrics = {"task": config.task, "epochs": config.epochs, "train_examples": data.train_examples, **reported}
    if best is not None and best.best_epoch is not None:
        metrics["best_epoch"] = best.best_epoch + 1
    if replicas > 1:
        metrics["replicas"] = replicas
    if not chief:
        shutil.rmtree(backup_dir, ignore_errors=True)
        if best is not None:
            best.remove_files()
        return metrics
    write_json(history_data, os.path.join(config.out_dir, HISTORY_FILE))
    write_json(metrics, os.path.join(config.out_dir, METRICS_FILE))
    # Last, saved beside and renamed over: model.keras marks a finished run, so it is never half written.
    save_model_atomically(model.inference_copy(), os.path.join(config.out_dir, MODEL_FILE))
    # Only now: a crash before this line resumes from the checkpoint instead of training again.
    backup.remove_files()
    if best is not None:
        best.remove_files()  # the run is over: its best weights are model.keras
    return metrics


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
