"""The zoo for users: list, describe, download, load and evaluate pretrained models."""

from kerasrnn.zoo.download import fetch
from kerasrnn.zoo.index import averaged_members, find_entry, read_index


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

    Returns:
        The model file's path; for a model that averages others (assembled
        at load, no file of its own), the list of its members' paths.

    Example:

    >>> path = download("pos-ewt-bilstm")  # doctest: +SKIP
    >>> [os.path.basename(path) for path in download("pos-ewt-average-bilstm-bigru")]  # doctest: +SKIP
    ['pos-ewt-bilstm.keras', 'pos-ewt-bigru.keras']
    """
    entry = find_entry(name)
    members = averaged_members(entry)
    return fetch(entry) if members is None else [fetch(find_entry(member)) for member in members]


def load(source, model_class=None):
    """Load a ready task model from a zoo name, a `.keras` file, a folder or a URL.

    The same loading as `TaskModel.from_preset`: both call down into
    `kerasrnn.tasks.preset_loading.load_preset` (safe mode), which resolves
    the source with `kerasrnn.zoo.presets.model_file` (sha256, cache, origins).
    `source` and `model_class` are `load_preset`'s `preset` and `model_class`;
    the result is a `SentimentClassifier`, `PosTagger` or `CharLanguageModel`.

    Example:

    >>> model = load("sentiment-imdb-bigru")  # doctest: +SKIP
    >>> model.predict_text("A moving, funny film.")["label"]  # doctest: +SKIP
    'pos'
    """
    from kerasrnn.tasks.preset_loading import load_preset

    return load_preset(source, model_class=model_class)


def evaluate(source, data_path):
    """Score a model on real data, exactly as `kerasrnn evaluate` does.

    Example:

    >>> evaluate("pos-ewt-bilstm", "../shared/data/ud-english-ewt/en_ewt-ud-test.conllu")  # doctest: +SKIP
    """
    from kerasrnn.training.evaluation import evaluate_on_data

    return evaluate_on_data(load(source), data_path)
