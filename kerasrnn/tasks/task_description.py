"""What a task tells the rest of kerasrnn, as plain data (importing it costs no TensorFlow)."""

import dataclasses
import importlib
import importlib.util
import os


@dataclasses.dataclass(frozen=True)
class Score:
    """The headline metric of a task, as `kerasrnn evaluate` reports it and the zoo table shows it.

    Attributes:
        key: the metric's key in `model.evaluate(..., return_dict=True)`.
        label: what the number is, for people (e.g. "IMDB test accuracy").
        percent: show the value as a percentage.
        higher_is_better: which way is better (False for nats per character).

    Example:

    >>> Score("accuracy", "IMDB test accuracy").format(0.8958)
    '89.58%'
    """

    key: str
    label: str
    percent: bool = True
    higher_is_better: bool = True

    def format(self, value):
        return f"{100 * value:.2f}%" if self.percent else f"{value:.3f}"


@dataclasses.dataclass(frozen=True)
class TaskDescription:
    """One task: its name, where its code lives, its command-line options and its score.

    Attributes:
        name: the task's one name (`"sentiment"`, `"pos_tagger"`, `"char_lm"`).
        summary: one line for `--help`.
        model_class_name: the task model class, defined by the task's folder
            (`package`), whose `head_class` builds its network.
        data_help: what `--data` names for this task.
        builder_options: task-only builder arguments → `argparse` keyword arguments.
        data_options: arguments of `prepare` → `argparse` keyword arguments.
        score: the headline metric.
        monitor: the validation metric `--keep-best` watches, and `"min"` or `"max"`.
        verb: the command that answers a text: `"predict"` or `"generate"`.
        latency_example: one raw input, for the zoo's latency measurement.
        batch_size: the training batch `kerasrnn train` uses unless told
            otherwise: the fastest one measured that loses no accuracy
            (benchmarks/RESULTS.md).
        training_options: arguments of `kerasrnn.training.train` only this
            task takes → `argparse` keyword arguments; its model class checks
            them (`check_training_options`) and applies them
            (`use_training_options`).
        input_limits: the `data_options` that bound one input (a sentence's
            tokens, a review's characters): `evaluate` and `predict` take
            them too, and the task model has each as an attribute.

    Example:

    >>> from kerasrnn.tasks.registry import get_task
    >>> get_task("sentiment").monitor
    ('val_accuracy', 'max')
    """

    name: str
    summary: str
    model_class_name: str
    data_help: str
    builder_options: dict
    data_options: dict
    score: Score
    monitor: tuple
    verb: str
    latency_example: list
    batch_size: int
    training_options: dict = dataclasses.field(default_factory=dict)
    input_limits: tuple = ()

    @property
    def package(self):
        """The task's folder as a module path: `kerasrnn.tasks.<name>` (the registry's convention).

        It defines the model class `model_class_name`, a `data` module with
        `prepare(data_path, batch_size, max_examples, seed, **data_options)`
        and `evaluation_data(data_path)`, and a `baseline` module with
        `measure_baseline(shared_data)`.

        Example:

        >>> from kerasrnn.tasks.registry import get_task
        >>> get_task("char_lm").package
        'kerasrnn.tasks.char_lm'
        """
        return f"{__package__}.{self.name}"

    def model_class(self):
        """The task model class (imports TensorFlow)."""
        return getattr(importlib.import_module(self.package), self.model_class_name)

    def register_keras_classes(self):
        """Import the task's Keras classes (model, preprocessor, metrics), registering them with Keras."""
        self.model_class()

    def head_class(self):
        """The task's `TaskHead` subclass: its layers, compile and option defaults (imports TensorFlow).

        Its `option_defaults()` are what the task's `build_*` convenience, its
        spec and `kerasrnn train` take.

        Example:

        >>> from kerasrnn.tasks.registry import get_task
        >>> get_task("sentiment").head_class().option_defaults()["pooling"]
        'max'
        """
        return self.model_class().head_class

    def data(self):
        """The task's data module: `prepare` and `evaluation_data` (imports TensorFlow)."""
        return importlib.import_module(f"{self.package}.data")

    def pretraining(self):
        """The task's pretraining module: `pretrain(data_path, out_dir, ...)` → a weights file.

        Only tasks whose folder has a `pretraining` module can pretrain;
        asking another is an error naming the task.
        """
        if importlib.util.find_spec(f"{self.package}.pretraining") is None:
            raise ValueError(f"Task {self.name!r} has no pretraining (only the sentiment classifier has).")
        return importlib.import_module(f"{self.package}.pretraining")

    def diagnosis(self):
        """The task's `diagnosis` module (`diagnosis_data(path, config)` for `kerasrnn diagnose`), or None.

        Only tasks whose folder has a `diagnosis` module take part in
        `kerasrnn diagnose` (the char LM and the sentiment classifier).
        """
        if importlib.util.find_spec(f"{self.package}.diagnosis") is None:
            return None
        return importlib.import_module(f"{self.package}.diagnosis")

    def portable(self):
        """How the task's network looks in an ONNX or LiteRT export: its folder's `PortableInterface`.

        Example:

        >>> from kerasrnn.tasks.registry import get_task
        >>> get_task("pos_tagger").portable().output_name
        'scores'
        """
        return self._from_folder("portable", "INTERFACE")

    def portable_model(self):
        """The class that runs the task's portable export without TensorFlow: its folder's `PORTABLE_MODEL`.

        Example:

        >>> from kerasrnn.tasks.registry import get_task
        >>> get_task("pos_tagger").portable_model().__name__
        'PortablePosTagger'
        """
        return self._from_folder("portable_model", "PORTABLE_MODEL")

    def baseline(self):
        """The task's baseline module: `measure_baseline(shared_data)` → name, metric, value, seconds."""
        return importlib.import_module(f"{self.package}.baseline")

    def _from_folder(self, module, attribute):
        # A module of the task's folder, imported on first use (the task description itself stays light).
        return getattr(importlib.import_module(f"{self.package}.{module}"), attribute)

    def presets_path(self):
        """The task's zoo presets file (package data): index entries of its published models."""
        module = importlib.import_module(self.package)
        return os.path.join(os.path.dirname(module.__file__), "presets.json")
