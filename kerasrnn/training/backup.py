"""`AtomicBackupAndRestore`: Keras' resumable training checkpoint, written so that no crash or full disk breaks a resume."""

import contextlib
import json
import os
import re
import shutil
import sys

import keras

from kerasrnn.atomic_files import PARTIAL_PREFIX, atomic_path, check_free_space, h5_size_bound, write_text

METADATA_FILE = "training_metadata.json"
_WEIGHTS_NAME = re.compile(r"^epoch-(\d+)\.weights\.h5$")
# The names Keras' own BackupAndRestore writes: a folder from an older kerasrnn still resumes.
_KERAS_WEIGHTS = "latest.weights.h5"


def weights_name(epoch):
    """The checkpoint file of the state after `epoch` finished epochs.

    Example:

    >>> weights_name(3)
    'epoch-3.weights.h5'
    """
    return f"epoch-{epoch}.weights.h5"


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` whose checkpoints survive a kill, a crash or a full disk at any moment.

    Keras rewrites `latest.weights.h5` in place at every epoch end: a kill
    during the write leaves a truncated file while `training_metadata.json`
    already names the epoch, and every resume then fails in h5py ("file
    signature not found"). Here each epoch's weights (with the optimizer
    state) go to their own file, `epoch-<n>.weights.h5`, written to a
    temporary name, fsynced and renamed; only then is
    `training_metadata.json` replaced (atomically too), naming that file and
    the one before. The metadata is the commit point: whatever moment a
    crash hits, it names two complete files. The last two checkpoints are
    kept; on resume, a newest one that does not load (damaged on the disk, or
    a truncated file left by Keras' callback) is set aside as
    `<name>.damaged` with a one-line message on stderr, and training resumes
    from the one before.

    Before h5py writes, the free space is checked (h5py crashes the process
    when the disk fills under it): a full disk raises `DiskFullError` and
    leaves the earlier checkpoints as they were.

    The metadata also records whether a callback stopped the training at
    that epoch (early stopping), so a run interrupted after it stopped does
    not train further when resumed.

    Saving is at epoch ends only. The checkpoint is kept when training
    ends (`delete_checkpoint=False` by default): the caller removes it with
    `remove_files()` once the trained model is safely saved, so a crash in
    between loses nothing.

    Args:
        backup_dir: the folder of the checkpoints (created when first needed).
        delete_checkpoint: remove the folder when `fit` ends, as Keras does.

    Example:

    >>> import tempfile, numpy as np
    >>> folder = tempfile.mkdtemp()
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> x = np.ones((4, 1))
    >>> _ = model.fit(x, x, epochs=3, callbacks=[AtomicBackupAndRestore(folder)], verbose=0)
    >>> sorted(os.listdir(folder))
    ['epoch-2.weights.h5', 'epoch-3.weights.h5', 'training_metadata.json']
    >>> history = model.fit(x, x, epochs=4, callbacks=[AtomicBackupAndRestore(folder)], verbose=0)
    >>> len(history.history["loss"])  # resumed after epoch 3: one epoch left
    1
    """

    def __init__(self, backup_dir, delete_checkpoint=False):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=delete_checkpoint)
        self._metadata_path = os.path.join(backup_dir, METADATA_FILE)
        self._newest = None  # the metadata entry of the newest good checkpoint, as restored or saved

    # Restoring.

    def on_train_begin(self, logs=None):
        self._newest = None
        if not os.path.isdir(self.backup_dir):
            return
        self._remove_partial_files()
        if not self.model.built:
            raise ValueError(
                "To use the BackupAndRestore callback, the model must be built before you call `fit()`."
            )
        if self.model.optimizer is not None and not self.model.optimizer.built:
            # The checkpoint holds the optimizer's variables: they must exist to be loaded.
            self.model.optimizer.build(self.model.trainable_variables)
        candidates = self._candidates()
        if not candidates:
            return
        before = [variable.numpy() for variable in self._variables()]
        for position, entry in enumerate(candidates):
            path = os.path.join(self.backup_dir, entry["weights"])
            try:
                self.model.load_weights(path)
            except Exception as error:  # any failure to read: h5py raises OSError, KeyError, ValueError...
                following = candidates[position + 1] if position + 1 < len(candidates) else None
                self._set_aside(path, error, following)
                continue
            if position:
                # The newest good checkpoint is now this one; the metadata says so.
                self._write_metadata(entry, previous=None)
            self._newest = entry
            epoch = int(entry["epoch"])
            if entry.get("stopped"):
                epoch = max(epoch, int(self.params.get("epochs", epoch)))  # stopped early: no epoch is left
            self.model._initial_epoch = epoch
            return
        # No checkpoint loads: a partly read file may have set some variables.
        for variable, value in zip(self._variables(), before):
            variable.assign(value)

    def _candidates(self):
        """The checkpoints to try, newest first: `[{"epoch", "weights", "stopped"}, ...]`."""
        try:
            with open(self._metadata_path, encoding="utf-8") as file:
                metadata = json.load(file)
            int(metadata["epoch"])
        except FileNotFoundError:
            metadata = None
        except (OSError, ValueError, KeyError, TypeError) as error:
            # Only a folder written before the metadata was atomic (or a damaged disk) gets here.
            self._set_aside(self._metadata_path, error, None, what="checkpoint metadata")
            metadata = None
        if metadata is None:
            # No commit point: every complete epoch file is a candidate, newest first.
            epochs = sorted(
                (int(match.group(1)) for match in map(_WEIGHTS_NAME.match, os.listdir(self.backup_dir)) if match),
                reverse=True,
            )
            return [{"epoch": epoch, "weights": weights_name(epoch), "stopped": False} for epoch in epochs[:2]]
        if "weights" not in metadata:
            # Keras' own layout (an older kerasrnn): latest.weights.h5, maybe a .bkp pair.
            candidates = [{"epoch": int(metadata["epoch"]), "weights": _KERAS_WEIGHTS, "stopped": False}]
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                with open(self._metadata_path + ".bkp", encoding="utf-8") as file:
                    candidates.append(
                        {"epoch": int(json.load(file)["epoch"]), "weights": _KERAS_WEIGHTS + ".bkp", "stopped": False}
                    )
            return candidates
        newest = {key: metadata[key] for key in ("epoch", "weights", "stopped") if key in metadata}
        return [newest] + ([metadata["previous"]] if metadata.get("previous") else [])

    def _set_aside(self, path, error, following, what="checkpoint"):
        reason = " ".join(str(error).split())[:160] or type(error).__name__
        aside = path + ".damaged"
        if os.path.exists(path):
            os.replace(path, aside)
            moved = f"set aside as {os.path.basename(aside)}"
        else:
            moved = "missing"
        if following is not None:
            then = f"resuming from the checkpoint after epoch {following['epoch']}"
        elif what == "checkpoint":
            then = "no earlier checkpoint: training starts again from the first epoch"
        else:
            then = "looking for the checkpoint files themselves"
        print(f"kerasrnn: {what} {path} is unreadable ({reason}); {moved}; {then}", file=sys.stderr)

    def _variables(self):
        optimizer = getattr(self.model, "optimizer", None)
        return list(self.model.weights) + (list(optimizer.variables) if optimizer is not None else [])

    def _remove_partial_files(self):
        # A write killed before its rename: never a checkpoint, only space taken.
        for name in os.listdir(self.backup_dir):
            if name.startswith(PARTIAL_PREFIX):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(self.backup_dir, name))

    # Saving.

    def on_epoch_end(self, epoch, logs=None):
        self._save(epoch + 1)

    def on_train_batch_end(self, batch, logs=None):
        pass  # epoch ends only

    def _save(self, epoch):
        os.makedirs(self.backup_dir, exist_ok=True)
        name = weights_name(epoch)
        path = os.path.join(self.backup_dir, name)
        check_free_space(path, h5_size_bound(self._variables()))
        with atomic_path(path) as temporary:
            self.model.save_weights(temporary)
        entry = {"epoch": epoch, "weights": name, "stopped": bool(self.model.stop_training)}
        # The previous checkpoint is kept until this one is complete, and stays as the fallback.
        previous = self._newest if self._newest is not None and self._newest["weights"] != name else None
        self._write_metadata(entry, previous)
        self._newest = entry
        keep = {name, METADATA_FILE} | ({previous["weights"]} if previous else set())
        for other in os.listdir(self.backup_dir):
            if other not in keep and (_WEIGHTS_NAME.match(other) or other.startswith(_KERAS_WEIGHTS)):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(self.backup_dir, other))

    def _write_metadata(self, entry, previous):
        # "epoch" and "batch" as Keras writes them: tools that read Keras' file still understand it.
        metadata = {**entry, "batch": 0, "previous": previous}
        write_text(self._metadata_path, json.dumps(metadata) + "\n")

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            self.remove_files()

    def remove_files(self):
        """Delete the checkpoints: the run is over and its model saved."""
        shutil.rmtree(self.backup_dir, ignore_errors=True)

