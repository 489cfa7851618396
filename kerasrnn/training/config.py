"""`TrainingConfig`: every option of a training run, as plain data that round-trips through a dict.

`kerasrnn train`, the zoo's recipes and `train()` all fill in one
`TrainingConfig`, so there is one list of options and one set of defaults:
a field's default here, and the task's own (its `batch_size`) from its
`TaskDescription` (`with_task_defaults`). Importing this module costs no
TensorFlow (the command line reads its defaults).

Example:

>>> config = TrainingConfig("pos_tagger", "ud-english-ewt", "runs/pos", epochs=3).with_task_defaults()
>>> config.batch_size
32
>>> TrainingConfig.from_dict(config.to_dict()) == config
True
"""

import dataclasses

from kerasrnn.tasks.registry import get_task
from kerasrnn.validation import check_open_unit_interval, check_positive_int


@dataclasses.dataclass
class TrainingConfig:
    """The options of one training run: what it trains on and how (`kerasrnn.training.train`'s arguments).

    Every field is plain data (strings, numbers, booleans, None, dicts of
    them), so a config is saved and read back as JSON. The fields from
    `builder_options` to `task_options` identify a run (`run_identity`): the
    same command resumes an interrupted run only with the same values. The
    last five say how it is carried out.

    Args:
        task: a task name from `kerasrnn.tasks.registry`.
        data_path: the data file or folder the task's `prepare` reads.
        out_dir: the run folder.
        builder_options: builder arguments (cell, units, optimizer, ...).
        data_options: extra arguments of the task's `prepare` (e.g. `seq_len`).
        epochs: passes over the training data.
        batch_size: the global batch; None stands for the task's `batch_size`.
        max_examples: train on a subset, for quick trials.
        seed: seeds weights, dropout and shuffling.
        keep_best: save the epoch with the best validation score, not the last.
        patience: with `keep_best`, stop after this many epochs without
            improvement (None: never early).
        learning_rate_patience: reduce the learning rate after this many
            epochs without improvement (None: a constant rate).
        learning_rate_factor: that reduction's factor, in (0, 1).
        initial_weights: a `.weights.h5` file to start from, or None.
        task_options: the task's own training options (its
            `TaskDescription.training_options`, e.g. sentiment's `adversarial`).
        tensorboard_dir: also log to TensorBoard there.
        verbose: Keras' progress-bar setting.
        strategy: `"default"`, `"mirrored"` or `"multi-worker"`.
        peer_timeout: with `"multi-worker"`, seconds to wait for the peers.
        overwrite: replace whatever run `out_dir` holds.

    Example:

    >>> TrainingConfig("char_lm", "input.txt", "runs/lm").with_task_defaults().train_options()["batch_size"]
    64
    """

    task: str
    data_path: str
    out_dir: str
    builder_options: dict = dataclasses.field(default_factory=dict)
    data_options: dict = dataclasses.field(default_factory=dict)
    epochs: int = 1
    batch_size: int | None = None
    max_examples: int | None = None
    seed: int = 1337
    keep_best: bool = False
    patience: int | None = None
    learning_rate_patience: int | None = None
    learning_rate_factor: float = 0.5
    initial_weights: str | None = None
    task_options: dict = dataclasses.field(default_factory=dict)
    tensorboard_dir: str | None = None
    verbose: str | int = "auto"
    strategy: str = "default"
    peer_timeout: float = 120.0
    overwrite: bool = False

    @classmethod
    def from_dict(cls, config):
        """A `TrainingConfig` from a dict of its fields (as `to_dict` writes it); an unknown key is refused.

        Args:
            config: a dict with at least `task`, `data_path` and `out_dir`.

        Raises:
            ValueError: a key that is not a field, or a required one missing.

        Example:

        >>> TrainingConfig.from_dict({"task": "sentiment", "data_path": "imdb", "out_dir": "run"}).epochs
        1
        >>> TrainingConfig.from_dict({"task": "sentiment", "data_path": "imdb", "out_dir": "run", "epoch": 2})
        Traceback (most recent call last):
        ...
        ValueError: Unknown training option(s) epoch. Options: task, data_path, out_dir, ...
        """
        names = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(config) - set(names))
        if unknown:
            raise ValueError(
                f"Unknown training option(s) {', '.join(unknown)}. Options: {', '.join(names[:3])}, ..."
            )
        missing = [name for name in names[:3] if name not in config]
        if missing:
            raise ValueError(f"A training config needs {', '.join(missing)}.")
        return cls(**config)

    def to_dict(self):
        """The fields as a JSON-ready dict (a deep copy: changing it leaves the config as it was).

        Example:

        >>> TrainingConfig("char_lm", "input.txt", "runs/lm", data_options={"seq_len": 50}).to_dict()["data_options"]
        {'seq_len': 50}
        """
        return dataclasses.asdict(self)

    def with_task_defaults(self):
        """A copy with every option left to the task filled in from its `TaskDescription` (the batch size).

        Raises:
            ValueError: an unknown task (naming the nearest task names).

        Example:

        >>> TrainingConfig("sentiment", "imdb", "run").with_task_defaults().batch_size
        128
        """
        description = get_task(self.task)
        batch_size = description.batch_size if self.batch_size is None else self.batch_size
        return dataclasses.replace(self, batch_size=batch_size)

    def check(self):
        """Refuse an out-of-range number in one line, before anything is read; return the checked config.

        Raises:
            ValueError: `epochs`, `batch_size` or a patience that is not a
                positive integer, or a `learning_rate_factor` outside (0, 1)
                (checked only with `learning_rate_patience`, which uses it).

        Example:

        >>> TrainingConfig("sentiment", "imdb", "run", epochs=0).check()
        Traceback (most recent call last):
        ...
        ValueError: `epochs` must be a positive integer. Received: epochs=0
        """
        # The checks return plain Python numbers: a numpy integer would be recorded in run.json as a string.
        checked = {"epochs": check_positive_int("epochs", self.epochs)}
        for name in ("batch_size", "patience", "learning_rate_patience"):
            if getattr(self, name) is not None:
                checked[name] = check_positive_int(name, getattr(self, name))
        if self.learning_rate_patience is not None:
            factor = check_open_unit_interval("learning_rate_factor", self.learning_rate_factor)
            checked["learning_rate_factor"] = factor
        return dataclasses.replace(self, **checked)

    def train_options(self):
        """The keyword arguments of `train(task, data_path, out_dir, **options)` that this config stands for.

        The task's own options are keyword arguments of `train` (`**task_options`).

        Example:

        >>> options = TrainingConfig("sentiment", "imdb", "run", task_options={"adversarial": "at"}).train_options()
        >>> options["adversarial"], "task_options" in options, "task" in options
        ('at', False, False)
        """
        options = self.to_dict()
        for name in ("task", "data_path", "out_dir"):
            del options[name]
        task_options = options.pop("task_options")
        return {**options, **task_options}
