"""An exported graph as a task model, without TensorFlow: the base class and `load`.

Each task's subclass (its text methods) lives in its folder's
`portable_model.py`; `load` finds it through the task registry, so a new
task needs nothing here.
"""

import json
import os

from kerasrnn.portable.runtimes import open_runner

MODEL_FILE, PREPROCESSING_FILE = "model.json", "preprocessing.json"
SCHEMA_VERSION = 1


class PortableModel:
    """An exported kerasrnn model: its graph's runner, `model.json` and `preprocessing.json`.

    Use `kerasrnn.portable.load`, which picks the task's subclass.

    Attributes:
        path: the version folder.
        task: `"sentiment"`, `"pos_tagger"` or `"char_lm"`.
        format: `"onnx"` or `"litert"`.
        description: `model.json` (inputs, output, states, the measured difference to Keras).
        preprocessing: `preprocessing.json` (vocabulary, labels, characters).
        runner: the `OnnxRunner` or `LiteRtRunner` (called with keyword arrays).

    Example:

    >>> import numpy as np
    >>> model = load("export/imdb-onnx/1")  # doctest: +SKIP
    >>> model.run(token_ids=np.array([[12, 7, 0]], "int32"))["probabilities"].shape  # doctest: +SKIP
    (1, 2)
    """

    task = None

    def __init__(self, path, description, preprocessing_config, threads=None):
        self.path = path
        self.description = description
        self.preprocessing = preprocessing_config
        self.format = description["format"]
        self.runner = open_runner(self.format, os.path.join(path, description["file"]), threads=threads)
        self.output_name = description["output"]["name"]

    def run(self, **inputs):
        """The graph on id arrays (as `model.json` names them); returns `{output name: array}`."""
        return self.runner(**inputs)

    def __repr__(self):
        return f"<{type(self).__name__} {self.task} {self.format} from {self.path!r}>"


def _version_folder(path):
    if os.path.isfile(os.path.join(path, MODEL_FILE)):
        return path
    versions = sorted(int(name) for name in os.listdir(path) if name.isascii() and name.isdigit()
                      and os.path.isfile(os.path.join(path, name, MODEL_FILE))) if os.path.isdir(path) else []
    if not versions:
        raise FileNotFoundError(f"`path`: {path!r} is not a kerasrnn portable export (no {MODEL_FILE} in it or in an "
                                "integer version folder under it); write one with `kerasrnn export MODEL --format "
                                "onnx` or `--format litert`.")
    return os.path.join(path, str(versions[-1]))


def load(path, threads=None):
    """Open a portable export (`kerasrnn export --format onnx|litert`) as its task's model, without TensorFlow.

    Args:
        path: the version folder (`export/NAME/<version>`), or the base
            folder, whose newest version is loaded.
        threads: the runtime's thread count (None: its default).

    Returns:
        A `PortableSentimentClassifier` (`predict_text`, `predict`), a
        `PortablePosTagger` (`predict_text`, `predict`) or a
        `PortableCharLanguageModel` (`generate`).

    Example:

    >>> load("/no/such/export")
    Traceback (most recent call last):
    ...
    FileNotFoundError: `path`: '/no/such/export' is not a kerasrnn portable export (no model.json in it or in an integer version folder under it); write one with `kerasrnn export MODEL --format onnx` or `--format litert`.
    """
    folder = _version_folder(os.fspath(path))
    with open(os.path.join(folder, MODEL_FILE), encoding="utf-8") as file:
        description = json.load(file)
    model_class = _portable_model_class(description.get("task"))
    if description.get("kerasrnn_portable") != SCHEMA_VERSION or model_class is None:
        raise ValueError(f"`path`: {os.path.join(folder, MODEL_FILE)!r} is not a kerasrnn portable export of version "
                         f"{SCHEMA_VERSION} (task {description.get('task')!r}); export the model again with this "
                         "kerasrnn.")
    with open(os.path.join(folder, PREPROCESSING_FILE), encoding="utf-8") as file:
        preprocessing_config = json.load(file)
    return model_class(folder, description, preprocessing_config, threads=threads)


def _portable_model_class(task_name):
    # The registry and the task's portable_model.py import no TensorFlow.
    from kerasrnn.tasks.registry import get_task

    try:
        return get_task(task_name).portable_model()
    except (ValueError, TypeError):
        return None
