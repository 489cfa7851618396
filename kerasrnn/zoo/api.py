"""The zoo for users: list, describe, download, load and evaluate pretrained models."""

from kerasrnn.zoo.download import fetch
from kerasrnn.zoo.index import find_entry, read_index


def list_models():
    """The names of the pretrained models, sorted (from the index shipped with the package).

    Example:

    >>> names = list_models()
    >>> names == sorted(names) and "sentiment-imdb-bigru" in names
    True
    """
    return sorted(entry["name"] for entry in read_index())


def info(name):
    """The index entry of a model: task, cell, spec, data, measured metrics, size, sha256.

    Example:

    >>> info("sentiment-imdb-bigru")["task"]
    'sentiment'
    """
    return dict(find_entry(name))


def download(name):
    """Make sure a model is on this machine (verified by sha256) and return its path.

    The path is in an installed model wheel, in a local zoo folder (a
    clone's `models/`), or in the cache after a download; see `fetch`.

    Args:
        name: a zoo model name (`kerasrnn zoo list`).

    Example:

    >>> path = download("pos-ewt-bilstm")  # doctest: +SKIP
    """
    return fetch(find_entry(name))


def load(source, model_class=None):
    """Load a ready task model from a zoo name, a `.keras` file, a folder or a URL.

    Loading uses `safe_mode=True`: no `Lambda` code runs. See
    `kerasrnn.zoo.sources.model_file` for every kind of source. Keras' own
    recurrent layers in an older model become the fused layers the builders
    use now (`kerasrnn.layers.recurrent_stack.with_builder_layers`).

    Args:
        source: a zoo name, a `.keras` file, a `kerasrnn train` folder, a zoo
            folder, an `https://`/`file://` URL or `hf://OWNER/REPO`.
        model_class: if given (as `SentimentClassifier.from_preset` does),
            the model must be of this class.

    Returns:
        A `SentimentClassifier`, `PosTagger` or `CharLanguageModel`.

    Example:

    >>> model = load("sentiment-imdb-bigru")  # doctest: +SKIP
    >>> model.predict_text("A moving, funny film.")["label"]  # doctest: +SKIP
    'pos'
    """
    import keras

    import kerasrnn.layers  # noqa: F401  registers the custom layers a saved model names
    from kerasrnn.tasks.registry import all_tasks, task_of
    from kerasrnn.zoo.sources import model_file

    path = model_file(source)
    for task in all_tasks():
        task.model_class()  # registers the task classes with Keras
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"{path}: not a loadable kerasrnn model ({message}).") from error
    try:
        task_of(model)
    except ValueError:
        raise ValueError(
            f"{path}: a {type(model).__name__}, not a kerasrnn task model (a .keras file of another library?)."
        ) from None
    if model_class is not None and not isinstance(model, model_class):
        raise ValueError(f"{source!r} is a {type(model).__name__}, not a {model_class.__name__}.")
    from kerasrnn.layers.recurrent_stack import with_builder_layers

    # Zoo models saved before the fused GRU and SimpleRNN layers name Keras'
    # own: they run the layers a model trained today runs (same outputs).
    return with_builder_layers(model)


def evaluate(source, data_path):
    """Score a model on real data, exactly as `kerasrnn evaluate` does.

    Example:

    >>> evaluate("pos-ewt-bilstm", "../shared/data/ud-english-ewt/en_ewt-ud-test.conllu")  # doctest: +SKIP
    """
    from kerasrnn.training.evaluation import evaluate_on_data

    return evaluate_on_data(load(source), data_path)
