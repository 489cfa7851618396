"""Training glue: build the model from a spec, fit it with checkpoints, save the results."""

import json
import os
import warnings

import keras
import tensorflow as tf

from kerasrnn.spec import build_from_spec, load_spec, save_spec
from kerasrnn.validation import check_positive_int
from kerasrnn.workflows import WORKFLOWS
from kerasrnn.workflows.char_lm import ResetStatesEachEpoch
from kerasrnn.workflows.common import inference_copy

MODEL_FILE = "model.keras"
SPEC_FILE = "spec.json"


def write_json(data, path):
    """Write `data` as indented JSON, atomically (a reader never sees half a file)."""
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(data, file, indent=2, sort_keys=True)
        file.write("\n")
    os.replace(temporary, path)


def train(
    task,
    data_path,
    out_dir,
    builder_options=None,
    data_options=None,
    epochs=1,
    batch_size=32,
    max_examples=None,
    seed=1337,
    tensorboard_dir=None,
    callbacks=None,
    verbose="auto",
    keep_best=False,
    patience=None,
):
    """Train a model for `task` on real data and write it to `out_dir`.

    Writes `model.keras` (the end-to-end model over strings, vocabulary
    inside), `spec.json` (the builder's arguments), `history.json` and
    `metrics.json`. A checkpoint is kept in `out_dir/backup` after every
    epoch; running the same command again resumes from it.

    Args:
        task: `"char_lm"`, `"sentiment"` or `"pos_tagger"`.
        data_path: the data file or folder the task's workflow reads.
        out_dir: where to write the results.
        builder_options: builder arguments (cell, units, optimizer, ...).
        data_options: extra arguments of the workflow's `prepare` (e.g. `seq_len`).
        epochs: passes over the training data.
        batch_size: examples per batch.
        max_examples: train on a subset, for quick trials.
        seed: seeds weights, dropout and shuffling.
        tensorboard_dir: also log to TensorBoard there.
        callbacks: more Keras callbacks for `model.fit`.
        verbose: Keras' progress-bar setting.
        keep_best: save the weights of the epoch with the best validation
            score (`val_loss` for the char LM, `val_accuracy` otherwise)
            rather than the last epoch's; the metrics are then that epoch's.
            After a resume, "best" ranges over the epochs run since.
        patience: with `keep_best`, stop after this many epochs without a
            better validation score (default: never stop early).

    Returns:
        The metrics dict written to `metrics.json`.

    Example:

    >>> train("pos_tagger", "../shared/data/ud-english-ewt", "/tmp/tagger",
    ...       {"units": 32}, max_examples=500)  # doctest: +SKIP
    """
    if task not in WORKFLOWS:
        raise ValueError(f"`task` must be one of {', '.join(map(repr, WORKFLOWS))}. Received: {task!r}")
    epochs = check_positive_int("epochs", epochs)
    patience = check_positive_int("patience", epochs if patience is None else patience)
    workflow = WORKFLOWS[task]
    keras.utils.set_random_seed(seed)
    data = workflow.prepare(
        data_path, batch_size=batch_size, max_examples=max_examples, seed=seed, **(data_options or {})
    )
    spec = {"task": task, **(builder_options or {}), **data.spec_arguments}
    os.makedirs(out_dir, exist_ok=True)
    save_spec(spec, os.path.join(out_dir, SPEC_FILE))
    # Built inside the strategy's scope so that a multi-device strategy can
    # later be swapped in here without touching the builders.
    with tf.distribute.get_strategy().scope():
        model = build_from_spec(spec)
    fit_callbacks = [keras.callbacks.BackupAndRestore(os.path.join(out_dir, "backup"))]
    if spec.get("stateful"):
        fit_callbacks.append(ResetStatesEachEpoch())
    if tensorboard_dir:
        fit_callbacks.append(keras.callbacks.TensorBoard(tensorboard_dir))
    best = None
    if keep_best:
        monitor, mode = ("val_loss", "min") if task == "char_lm" else ("val_accuracy", "max")
        best = keras.callbacks.EarlyStopping(
            monitor,
            patience=patience,
            mode=mode,
            restore_best_weights=True,
        )
        fit_callbacks.append(best)
    with warnings.catch_warnings():
        # Length-bucketed datasets have no known size, so Keras learns the
        # epoch length when the first epoch runs out and warns about it; the
        # warning is expected here and would only alarm users.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        history = model.fit(
            data.train,
            validation_data=data.validation,
            epochs=epochs,
            shuffle=False,  # the task's tf.data pipeline shuffles (or keeps TBPTT order)
            callbacks=fit_callbacks + list(callbacks or []),
            verbose=verbose,
        )
    text_model = workflow.text_model(inference_copy(model), data.vocabulary, data.labels, **data.preprocessing)
    text_model.save(os.path.join(out_dir, MODEL_FILE))
    history_data = {key: [float(value) for value in values] for key, values in history.history.items()}
    write_json(history_data, os.path.join(out_dir, "history.json"))
    # The saved weights are the best epoch's under keep_best, else the last's.
    reported = history.epoch.index(best.best_epoch) if best is not None and best.best_weights is not None else -1
    metrics = {
        "task": task,
        "epochs": epochs,
        "train_examples": data.train_examples,
        **{key: values[reported] for key, values in history_data.items()},
    }
    if best is not None:
        metrics["best_epoch"] = history.epoch[reported] + 1
    write_json(metrics, os.path.join(out_dir, "metrics.json"))
    return metrics


def load_trained(model_dir):
    """Load `model.keras` and `spec.json` from a folder `train` wrote (safe mode on).

    Example:

    >>> model, spec = load_trained("runs/sentiment")  # doctest: +SKIP
    """
    model_path = os.path.join(model_dir, MODEL_FILE)
    spec_path = os.path.join(model_dir, SPEC_FILE)
    for path in (model_path, spec_path):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} not found: give a folder written by `kerasrnn train`.")
    spec = load_spec(spec_path)
    try:
        model = keras.saving.load_model(model_path, safe_mode=True)
    except Exception as error:
        raise ValueError(f"{model_path}: not a loadable Keras model ({error}).") from error
    return model, spec
