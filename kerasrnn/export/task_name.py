"""The task of a model to export, as the model itself names it."""


def exported_task_name(model):
    """The task a kerasrnn task model belongs to (`"sentiment"`, `"pos_tagger"`, `"char_lm"`).

    A task model names its task (`TaskModel.task_name`), so an export needs
    no lookup in the task registry, and no import of every task, to know it.

    Args:
        model: the model to export.

    Raises:
        ValueError: `model` is not a kerasrnn task model (a plain
            `keras.Model` names no task and has no serving signatures).

    Example:

    >>> import keras
    >>> exported_task_name(keras.Sequential())
    Traceback (most recent call last):
    ...
    ValueError: Expected a kerasrnn task model (a `TaskModel` such as `SentimentClassifier`); received Sequential.
    """
    task = getattr(model, "task_name", None)
    if not task or not callable(getattr(model, "serving_endpoints", None)):
        raise ValueError("Expected a kerasrnn task model (a `TaskModel` such as `SentimentClassifier`); "
                         f"received {type(model).__name__}.")
    return task
