"""Serving signatures per task, and which task an end-to-end model is."""

from kerasrnn.export.signatures.char_lm import char_lm_endpoints
from kerasrnn.export.signatures.endpoint import Endpoint
from kerasrnn.export.signatures.pos_tagger import pos_tagger_endpoints
from kerasrnn.export.signatures.sentiment import sentiment_endpoints

# The string-input layer each task's text model starts with (see
# kerasrnn/workflows/*.text_model) identifies the task of a loaded model.
TASK_BY_INPUT_LAYER = {
    "text_vectorization": "sentiment",
    "word_lookup": "pos_tagger",
    "char_lookup": "char_lm",
}
ENDPOINT_BUILDERS = {
    "sentiment": sentiment_endpoints,
    "pos_tagger": pos_tagger_endpoints,
    "char_lm": char_lm_endpoints,
}


def detect_task(model):
    """Return `"sentiment"`, `"pos_tagger"` or `"char_lm"` for a kerasrnn text model.

    Args:
        model: an end-to-end model as `kerasrnn train` saves it.

    Example:

    >>> detect_task(model)  # doctest: +SKIP
    'sentiment'
    """
    names = {layer.name for layer in getattr(model, "layers", [])}
    found = [task for layer, task in TASK_BY_INPUT_LAYER.items() if layer in names]
    if len(found) != 1:
        raise ValueError(
            "`model` must be a kerasrnn text model (as `kerasrnn train` saves it, with a "
            f"{' / '.join(TASK_BY_INPUT_LAYER)} layer); received {getattr(model, 'name', model)!r}."
        )
    return found[0]


def task_endpoints(model):
    """The list of `Endpoint`s to export for `model`, `serving_default` first.

    Example:

    >>> [e.name for e in task_endpoints(model)]  # doctest: +SKIP
    ['serving_default', 'tag_text']
    """
    return ENDPOINT_BUILDERS[detect_task(model)](model)


__all__ = ["Endpoint", "detect_task", "task_endpoints"]
