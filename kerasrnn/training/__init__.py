"""Training: the trainer behind `kerasrnn train`, its run folder, callbacks, cluster set-up and evaluation.

- `trainer.py`: `train` (build, fit with checkpoints, save `model.keras`) and `load_trained`.
- `run_folder.py`: the files of a run folder, `run.json` (which run it holds), its lock and clean-up.
- `backup.py`, `best_weights.py`, `epoch_log.py`: the Keras callbacks that make a run
  resumable (crash-safe checkpoints), keep its best epoch and log every epoch.
- `run_lock.py`: one writer per run folder.
- `distribute.py`: strategies by name, `TF_CONFIG` checks, the chief.
- `evaluation.py`: a task model scored on its task's held-out data.

`train` and `load_trained` are also attributes of this package (the public
API: `kerasrnn.training.train`), imported on first use so that importing one
submodule does not import the trainer.

Example:

>>> from kerasrnn import training
>>> training.train is training.trainer.train
True
"""

from kerasrnn.lazy_attributes import lazy_attributes

_PUBLIC = {
    "load_trained": "kerasrnn.training.trainer",
    "train": "kerasrnn.training.trainer",
}

__all__ = sorted(_PUBLIC)

__getattr__, __dir__ = lazy_attributes(__name__, _PUBLIC, globals())
