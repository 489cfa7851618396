"""Scoring a task model on real data, as `kerasrnn evaluate` and the zoo report it."""

import os

from kerasrnn.tasks.registry import task_of


def evaluate_on_data(model, data_path):
    """The task's metrics on the held-out part of `data_path`, plus what was counted.

    It is `model.evaluate` with the task's metrics on the task's evaluation
    data (IMDB's test reviews; a CoNLL-U file's tokens; the last 10% of a
    text file), so the numbers equal what user code gets from the same call.

    Args:
        model: a task model (`SentimentClassifier`, `PosTagger`, `CharLanguageModel`).
        data_path: the data set's file or folder.

    Returns:
        A dict: `task`, the metrics (`loss` and the task's), and counts.

    Example:

    >>> from kerasrnn import zoo
    >>> evaluate_on_data(zoo.load("pos-ewt-bilstm"), "../shared/data/ud-english-ewt/en_ewt-ud-test.conllu")  # doctest: +SKIP
    {'task': 'pos_tagger', 'accuracy': 0.9466..., 'loss': ..., 'tokens': 25094, 'sentences': 2077}
    """
    task = task_of(model)
    if not os.path.exists(data_path):
        raise FileNotFoundError(f"--data: {data_path!r} does not exist.")
    x, y, counts = task.data().evaluation_data(data_path)
    metrics = model.evaluate(x, y, return_dict=True, verbose=0)
    return {"task": task.name, **{key: float(value) for key, value in metrics.items()}, **counts}
