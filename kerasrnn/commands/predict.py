"""The `kerasrnn predict` verb: a review classified, or a sentence tagged, printed as JSON."""

import json

from kerasrnn.commands.parser import MODEL_HELP, add_input_limit_options, load_model_argument, set_input_limits
from kerasrnn.commands.parser import parse_verb  # noqa: F401 (the examples use it)


def add_predict_verb(verbs):
    """Add `predict` to the `kerasrnn` verbs (`verbs`: the parser's `add_subparsers()`), handled by `run_predict`.

    >>> parse_verb(add_predict_verb, ["predict", "sentiment-imdb-bilstm", "A fine film."]).text
    'A fine film.'
    """
    predict = verbs.add_parser("predict", help="classify or tag a text", description="Classify or tag a text.")
    predict.add_argument("model", help=MODEL_HELP)
    predict.add_argument("text", help="a review, or a sentence to tag (split on whitespace); UTF-8")
    add_input_limit_options(predict)
    predict.set_defaults(handler=run_predict)


def run_predict(arguments):
    """Classify or tag the parsed command line's text; print the answer as JSON.

    Args:
        arguments: the parsed command line (see `add_predict_verb`).
    """
    from kerasrnn.data.input_checks import InputTooLongError, check_utf8_text
    from kerasrnn.tasks.registry import task_of

    text = check_utf8_text(arguments.text, "TEXT")  # before the model loads: the argument's bytes are known now
    model = load_model_argument(arguments.model)
    if task_of(model).verb != "predict":
        raise ValueError(f"{arguments.model!r} is a {type(model).__name__}: use `kerasrnn {task_of(model).verb}`.")
    set_input_limits(arguments, model)
    try:
        answer = model.predict_text(text)
    except InputTooLongError as error:
        message = str(error)
        raise InputTooLongError(f"TEXT: {message[:1].lower()}{message[1:]}") from None
    print(json.dumps(answer))
