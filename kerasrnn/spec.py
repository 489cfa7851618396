"""A model's architecture as plain JSON: the task name plus the builder's arguments.

A spec is a dict such as `{"task": "sentiment", "vocab_size": 20000,
"cell": "gru", "units": 64}`. It is what `kerasrnn train` writes next to a
model and what the zoo index stores; `build_from_spec` turns it back into
the same (untrained) model.
"""

import inspect
import json

from kerasrnn.tasks.registry import get_task


def validate_spec(spec):
    """Check that `spec` names a known task and only that builder's arguments.

    Returns the spec unchanged; raises `ValueError` naming what is wrong.

    Example:

    >>> validate_spec({"task": "pos_tagger", "vocab_size": 100, "num_tags": 18})["task"]
    'pos_tagger'
    """
    if not isinstance(spec, dict):
        raise ValueError(f"A model spec must be a JSON object (dict). Received: {type(spec).__name__}")
    task = spec.get("task")
    try:
        builder = get_task(task).builder()
    except ValueError as error:
        raise ValueError(f"The spec's `task` is not a kerasrnn task: {error}") from None
    accepted = inspect.signature(builder).parameters
    unknown = sorted(set(spec) - {"task"} - set(accepted))
    if unknown:
        raise ValueError(
            f"Unknown argument(s) {', '.join(unknown)} in the spec of task {task!r}. "
            f"Accepted: {', '.join(accepted)}"
        )
    missing = [
        name
        for name, parameter in accepted.items()
        if parameter.default is inspect.Parameter.empty and name not in spec
    ]
    if missing:
        raise ValueError(f"The spec of task {task!r} is missing {', '.join(missing)}.")
    return spec


def build_from_spec(spec):
    """Build the compiled model a spec describes.

    Example:

    >>> model = build_from_spec({"task": "sentiment", "vocab_size": 50, "units": 4})
    >>> model.output_shape
    (None, 2)
    """
    validate_spec(spec)
    arguments = {key: value for key, value in spec.items() if key != "task"}
    return get_task(spec["task"]).builder()(**arguments)


def check_builder_options(task, builder_options):
    """Build `task`'s network once from `builder_options`, with stand-ins for what the data decides.

    `kerasrnn train` calls this before it reads the data, so that a bad option
    (`dropout=1.5`, a bidirectional language model) is refused at once, not
    after the data set has been loaded. The arguments the data fixes
    (`vocab_size`, `num_tags`, ...) are the builder's required ones; each gets
    the stand-in 2 unless `builder_options` names it.

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
    parameters = inspect.signature(get_task(task).builder()).parameters
    stand_ins = {name: 2 for name, parameter in parameters.items() if parameter.default is inspect.Parameter.empty}
    build_from_spec({"task": task, **stand_ins, **(builder_options or {})})


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
