"""A model's architecture as plain JSON: the task name plus the network's options.

A spec is a dict such as `{"task": "sentiment", "vocab_size": 20000,
"cell": "gru", "units": 64}`: the task, its `RecurrentBackbone`'s
hyperparameters (`kerasrnn.tasks.recurrent_backbone`), its head's options
and the optimizer's, all as arguments of the task's `build_*` builder; what
the spec leaves out takes the task's defaults
(`TaskHead.option_defaults()`, the one definition of both). It is what
`kerasrnn train` writes next to a model and what the zoo index stores;
`build_from_spec` turns it back into the same (untrained) model. Every
`spec.json` written before the backbone existed has this form and still loads.

The public names (`kerasrnn.validate_spec`, `build_from_spec`, `save_spec`,
`load_spec`) are exported by `kerasrnn`; this module lives under `tasks`
because it is a view of the tasks (the registry and their heads), which
`tasks/sentiment/pretraining.py` uses too.
"""

import json

from kerasrnn.optimizers import build_optimizer
from kerasrnn.tasks.registry import get_task
from kerasrnn.tasks.task_head import REQUIRED, build_task_network, check_task_network_options, complete_options
from kerasrnn.tasks.task_head import split_network_options


def validate_spec(spec):
    """Check that `spec` names a known task and only options of that task's network, the required ones included.

    Returns the spec unchanged; raises `ValueError` naming what is wrong.

    Example:

    >>> validate_spec({"task": "pos_tagger", "vocab_size": 100, "num_tags": 18})["task"]
    'pos_tagger'
    """
    network_options(spec)
    return spec


def network_options(spec):
    """The task head and every option of `spec`'s network: the spec's own over the task's defaults.

    Args:
        spec: a model spec (validated here).

    Returns:
        `(head_class, options)`: the task's `TaskHead` subclass and the
        network's options by name, as `build_task_network` takes them.

    Raises:
        ValueError: naming what is wrong (not a dict, an unknown task, an unknown or a missing option).

    Example:

    >>> head_class, options = network_options({"task": "char_lm", "vocab_size": 30, "units": 8})
    >>> head_class.__name__, options["units"], options["num_layers"]
    ('CharLanguageModelHead', 8, 2)
    """
    if not isinstance(spec, dict):
        raise ValueError(f"A model spec must be a JSON object (dict). Received: {type(spec).__name__}")
    task = spec.get("task")
    try:
        description = get_task(task)
    except ValueError as error:
        raise ValueError(f"The spec's `task` is not a kerasrnn task: {error}") from None
    head_class = description.head_class()
    try:
        return head_class, complete_options(head_class, {key: value for key, value in spec.items() if key != "task"})
    except ValueError as error:
        raise ValueError(f"In the spec of task {task!r}: {error}") from None


def build_from_spec(spec, compile=True):
    """Build the model a spec describes: what its task's `build_*` builder returns.

    Args:
        spec: a model spec.
        compile: compile the network with the task's loss and metrics and the
            spec's optimizer; False leaves that to the task model that will
            hold the network (see `optimizer_from_spec`).

    Example:

    >>> model = build_from_spec({"task": "sentiment", "vocab_size": 50, "units": 4})
    >>> model.output_shape
    (None, 2)
    """
    return build_task_network(*network_options(spec), compile=compile)


def optimizer_from_spec(spec):
    """A new optimizer as the spec (or its builder's defaults) configures it.

    Example:

    >>> optimizer = optimizer_from_spec({"task": "char_lm", "vocab_size": 30, "clipnorm": 5.0})
    >>> type(optimizer).__name__, round(float(optimizer.learning_rate), 6), float(optimizer.clipnorm)
    ('Adam', 0.002, 5.0)
    """
    head_class, options = network_options(spec)
    return build_optimizer(**split_network_options(head_class, options)[2])


def check_builder_options(task, builder_options):
    """Check `builder_options` for `task` as its builder would, without building anything.

    `kerasrnn train` calls this before it reads the data, so that a bad option
    (`dropout=1.5`, a bidirectional language model) is refused at once, not
    after the data set has been loaded. It runs the checks of the task's head,
    of the `RecurrentBackbone` and of the optimizer
    (`kerasrnn.tasks.task_head.check_task_network_options`), on the
    task's defaults for what `builder_options` leaves out. The arguments
    the data fixes (`vocab_size`, `num_tags`, ...) are the task's required
    ones; each gets the stand-in 2 unless `builder_options` names it.

    Args:
        task: a task name.
        builder_options: the builder arguments a training run will use.

    Raises:
        ValueError: naming the option that is wrong, as the builder does.

    Example:

    >>> check_builder_options("sentiment", {"cell": "gru", "dropout": 0.5})
    >>> check_builder_options("sentiment", {"dropout": 1.5})
    Traceback (most recent call last):
    ...
    ValueError: `dropout` must be a number in [0, 1). Received: dropout=1.5
    """
    head_class = get_task(task).head_class()
    stand_ins = {name: 2 for name, default in head_class.option_defaults().items() if default is REQUIRED}
    check_task_network_options(*network_options({"task": task, **stand_ins, **(builder_options or {})}))


def save_spec(spec, path):
    """Write a validated spec to `path` as indented JSON.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "spec.json")
    >>> save_spec({"task": "char_lm", "vocab_size": 65}, path)
    >>> load_spec(path)
    {'task': 'char_lm', 'vocab_size': 65}
    """
    text = json.dumps(validate_spec(spec), indent=2, sort_keys=True)
    with open(path, "w", encoding="utf-8") as file:
        file.write(text + "\n")


def load_spec(path):
    """Read and validate a spec written by `save_spec` (or by hand).

    Malformed JSON raises `ValueError` naming the file, line and column.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "spec.json")
    >>> save_spec({"task": "sentiment", "vocab_size": 10}, path)
    >>> load_spec(path)["vocab_size"]
    10
    """
    with open(path, encoding="utf-8") as file:
        text = file.read()
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path}: malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from error
    return validate_spec(spec)
