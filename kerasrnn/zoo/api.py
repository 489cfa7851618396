"""The zoo for users: list, describe, download, load and evaluate pretrained models by name."""

from kerasrnn.zoo.download import fetch
from kerasrnn.zoo.index import find_entry, read_index


def list_models():
    """The names of the pretrained models, sorted.

    Example:

    >>> names = list_models()
    >>> names == sorted(names)
    True
    """
    return sorted(entry["name"] for entry in read_index())


def info(name):
    """The index entry of a model: task, cell, spec, data, measured metrics, size, sha256.

    Example:

    >>> info("no-such-model")
    Traceback (most recent call last):
    ...
    ValueError: Unknown zoo model 'no-such-model'. Available: ...
    """
    return dict(find_entry(name))


def download(name):
    """Make sure a model is in the local cache (verified by sha256) and return its path.

    Example:

    >>> path = download(list_models()[0])  # doctest: +SKIP
    """
    return fetch(find_entry(name))


def load(name):
    """Load a pretrained model by name: a `keras.Model` over strings, vocabulary inside.

    Loading uses `safe_mode=True`: no `Lambda` code runs.

    Example:

    >>> model = load("sentiment-imdb-bigru")  # doctest: +SKIP
    >>> model.predict(tf.constant(["A moving, funny film."]))  # doctest: +SKIP
    """
    import keras

    import kerasrnn.layers  # noqa: F401  registers the custom layers the saved model names

    path = download(name)
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as error:
        raise ValueError(f"{path}: zoo model {name!r} could not be loaded ({error}).") from error


def evaluate(name, data_path):
    """Score a zoo model on data, exactly as `kerasrnn evaluate` scores a trained folder.

    Example:

    >>> evaluate("pos-ewt-bilstm", "../shared/data/ud-english-ewt/en_ewt-ud-test.conllu")  # doctest: +SKIP
    """
    from kerasrnn.workflows import WORKFLOWS

    entry = find_entry(name)
    return {"task": entry["task"], **WORKFLOWS[entry["task"]].evaluate(load(name), data_path)}
