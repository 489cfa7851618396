"""`KeepBestWeights`: early stopping on the best validation epoch that survives a resume."""

import json
import math
import os
import shutil

import keras

from kerasrnn.atomic_files import atomic_path, check_free_space, h5_size_bound, write_text

STATE_FILE = "best.json"
WEIGHTS_FILE = "best.weights.h5"


class KeepBestWeights(keras.callbacks.Callback):
    """Keep the weights of the best epoch, stop after `patience` flat epochs, and resume both.

    Keras' `EarlyStopping(restore_best_weights=True)` holds its best value,
    its wait count and the best weights in memory: a run killed at an epoch
    boundary and resumed by `BackupAndRestore` starts them afresh, so the
    weights it finally keeps are the best of the epochs *since the resume*,
    and its patience counts from the resume. This callback writes its state
    (`best.json`: best epoch, value, its logs, and the wait count) and the
    best weights (`best.weights.h5`) to `directory` at every epoch end, and
    reads them back when training begins again, so a run interrupted any
    number of times keeps the same weights and stops at the same epoch as an
    uninterrupted one. At the end of training the model holds the best weights.

    Args:
        directory: where the state and weights are kept (created if missing).
        monitor: the logged value to watch, e.g. `"val_accuracy"`.
        mode: `"max"` or `"min"`: whether a larger or a smaller value is better.
        patience: stop after this many epochs without improvement.

    Example:

    >>> import tempfile, numpy as np, keras
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> keep = KeepBestWeights(tempfile.mkdtemp(), "val_loss", "min", patience=2)
    >>> x = np.ones((8, 1))
    >>> _ = model.fit(x, x, validation_data=(x, x), epochs=3, callbacks=[keep], verbose=0)
    >>> keep.best_epoch in (0, 1, 2)
    True
    """

    def __init__(self, directory, monitor, mode, patience):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f'`mode` must be "max" or "min". Received: mode={mode!r}')
        self.directory = directory
        self.monitor = monitor
        self.mode = mode
        self.patience = patience
        self._reset()

    def _reset(self):
        self.best = None
        self.best_epoch = None
        self.best_logs = None
        self.wait = 0
        self._best_weights = None

    @property
    def state_path(self):
        return os.path.join(self.directory, STATE_FILE)

    @property
    def weights_path(self):
        return os.path.join(self.directory, WEIGHTS_FILE)

    def on_train_begin(self, logs=None):
        self._reset()
        if not os.path.exists(self.state_path):
            return
        with open(self.state_path, encoding="utf-8") as file:
            state = json.load(file)
        if state.get("monitor") != self.monitor or not os.path.exists(self.weights_path):
            raise ValueError(
                f"{self.state_path} does not belong to this run (it watches {state.get('monitor')!r}, "
                f"this run {self.monitor!r}, or {WEIGHTS_FILE} is missing): remove {self.directory} to start afresh."
            )
        self.best, self.best_epoch = state["value"], state["epoch"]
        self.best_logs, self.wait = state["logs"], state["wait"]

    def on_epoch_end(self, epoch, logs=None):
        logs = {key: float(value) for key, value in (logs or {}).items()}
        value = logs.get(self.monitor)
        if value is None:
            raise ValueError(
                f"`{self.monitor}` is not logged at epoch {epoch + 1}: give validation data. "
                f"Logged: {sorted(logs)}"
            )
        if self._improves(value):
            self.best, self.best_epoch, self.best_logs, self.wait = value, epoch, logs, 0
            self._best_weights = self.model.get_weights()
            os.makedirs(self.directory, exist_ok=True)
            # Written beside and renamed over: an interruption or a full disk never
            # leaves half a file. Space is checked first: h5py crashes on a full disk.
            optimizer = getattr(self.model, "optimizer", None)  # a model used outside fit may have none
            optimizer_variables = list(optimizer.variables) if optimizer is not None else []
            check_free_space(self.weights_path, h5_size_bound(list(self.model.weights) + optimizer_variables))
            with atomic_path(self.weights_path) as partial:
                self.model.save_weights(partial)
        else:
            self.wait += 1
        state = {"monitor": self.monitor, "value": self.best, "epoch": self.best_epoch,
                 "logs": self.best_logs, "wait": self.wait}
        os.makedirs(self.directory, exist_ok=True)
        write_text(self.state_path, json.dumps(state))
        if self.wait >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self._best_weights is not None:
            self.model.set_weights(self._best_weights)
        elif self.best_epoch is not None:
            # The best epoch ran before a resume: its weights are only on disk.
            self.model.load_weights(self.weights_path)

    def remove_files(self):
        """Delete the state and weights: the run is over and its model saved."""
        shutil.rmtree(self.directory, ignore_errors=True)

    def _improves(self, value):
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best
