"""Scoring a task model on real data, as `kerasrnn evaluate` and the zoo report it."""

import contextlib
import os
import sys

from kerasrnn.tasks.registry import task_of


def progress_verbosity(stream=None):
    """The `verbose` of `evaluate_on_data` for a command: 1 (a progress bar) on a terminal, else 0.

    A progress bar helps a person watching a minute-long evaluation; in a log
    file or a pipe it is only noise, so the command stays quiet there.

    Args:
        stream: where the progress bar would go (default `sys.stderr`).

    Returns:
        1 if `stream` is a terminal, else 0.

    Example:

    >>> import io
    >>> progress_verbosity(io.StringIO())
    0
    """
    stream = sys.stderr if stream is None else stream
    return 1 if hasattr(stream, "isatty") and stream.isatty() else 0


def evaluate_on_data(model, data_path, verbose=0):
    """The task's metrics on the held-out part of `data_path`, plus what was counted.

    It is `model.evaluate` with the task's metrics on the task's evaluation
    data (IMDB's test reviews; a CoNLL-U file's tokens; the last 10% of a
    text file), so the numbers equal what user code gets from the same call.
    A data set of the wrong kind for the task (a CoNLL-U file given to a char
    LM, a text given to the tagger, ...) is refused before it is read.

    Args:
        model: a task model (`SentimentClassifier`, `PosTagger`, `CharLanguageModel`).
        data_path: the data set's file or folder.
        verbose: 1 shows Keras' progress bar on stderr (stdout keeps only what
            the caller prints); 0 shows nothing.

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
    if verbose not in (0, 1):
        raise ValueError(f"`verbose` must be 0 or 1. Received: verbose={verbose!r}")
    if verbose:
        print(f"kerasrnn: reading the {task.name} evaluation data from {data_path}", file=sys.stderr, flush=True)
    # The model's bounds on one input (a sentence's tokens, a review's characters) apply while reading:
    # an input over them is refused with its file and line before any scoring. The gold labels are
    # those the model learned (the tagger's tag column).
    x, y, counts = task.data().evaluation_data(data_path, **model.evaluation_data_options())
    # Keras writes its progress bar to stdout; a command's stdout is its JSON line.
    with contextlib.redirect_stdout(sys.stderr) if verbose else contextlib.nullcontext():
        metrics = model.evaluate(x, y, return_dict=True, verbose=verbose)
    return {"task": task.name, **{key: float(value) for key, value in metrics.items()}, **counts}
