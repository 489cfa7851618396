"""The one place that lists the tasks. Adding a task is a folder and a line here.

Example:

>>> task_names()
['char_lm', 'pos_tagger', 'sentiment']
>>> get_task("pos").name
Traceback (most recent call last):
...
ValueError: Unknown task 'pos'. Did you mean 'pos_tagger'? Tasks: char_lm, pos_tagger, sentiment
"""

import difflib
import importlib

# The task names; task `name`'s folder is `kerasrnn/tasks/<name>/`, its `task` module holds its
# `TASK` description (light: no TensorFlow).
_TASK_NAMES = ("char_lm", "pos_tagger", "sentiment")


def task_names():
    """The task names, sorted."""
    return sorted(_TASK_NAMES)


def get_task(name):
    """The `TaskDescription` of `name`; an unknown name gets the nearest names in its error."""
    if name not in _TASK_NAMES:
        near = difflib.get_close_matches(str(name), list(_TASK_NAMES), n=2, cutoff=0.3)
        hint = f" Did you mean {' or '.join(map(repr, near))}?" if near else ""
        raise ValueError(f"Unknown task {name!r}.{hint} Tasks: {', '.join(task_names())}")
    return importlib.import_module(f"{__package__}.{name}.task").TASK


def all_tasks():
    """Every `TaskDescription`, sorted by name."""
    return [get_task(name) for name in task_names()]


def task_of(model):
    """The `TaskDescription` of a task model (`SentimentClassifier`, ...), or a clear error.

    Example:

    >>> import keras
    >>> task_of(keras.Sequential())
    Traceback (most recent call last):
    ...
    ValueError: Expected a kerasrnn task model (CharLanguageModel, PosTagger, SentimentClassifier); received Sequential.
    """
    name = getattr(model, "task_name", None)
    if name in _TASK_NAMES and isinstance(model, get_task(name).model_class()):
        return get_task(name)
    classes = ", ".join(sorted(task.model_class_name for task in all_tasks()))
    raise ValueError(f"Expected a kerasrnn task model ({classes}); received {type(model).__name__}.")
