"""The three tasks, one folder each, reached through `kerasrnn.tasks.registry`.

Each builder returns a compiled `keras.Model` over integer ids: a
`RecurrentBackbone` and the task's head as one flat network; each task model
class wraps such a network with its preprocessor.

Every task folder holds, top to bottom: `task.py` (its `TaskDescription`, the
one line the registry points to), `builder.py` (its `TaskHead` and `build_*`),
`preprocessor.py`, the task model, `presets.json` (its published models),
`data.py` (reading its data set), `signatures.py` (its SavedModel
signatures), `portable.py` (its ONNX / LiteRT export interface),
`portable_model.py` (running such an export without TensorFlow),
`baseline.py`, and its tests (`*_test.py`).
"""

import importlib

from kerasrnn.lazy_attributes import lazy_attributes
from kerasrnn.tasks.registry import task_names

# Each task folder's public names, as its own `__init__` lists them (so a task's names are written
# once, in its folder, and a new task's appear here); importing a task's package costs no
# TensorFlow, its attributes being lazy too. Then the parts every task shares.
_PUBLIC = {
    **{
        name: f"{__name__}.{task}"
        for task in task_names()
        for name in importlib.import_module(f"{__name__}.{task}").__all__
    },
    "RecurrentBackbone": "kerasrnn.tasks.recurrent_backbone",
    "TaskModel": "kerasrnn.tasks.task_model",
    "average_of": "kerasrnn.tasks.ensemble",
}
__all__ = sorted(_PUBLIC)
__getattr__, __dir__ = lazy_attributes(__name__, _PUBLIC, globals())
