"""The `kerasrnn evaluate` verb: a model scored on real data, printed as one JSON line."""

import json
import os

from kerasrnn.commands.parser import MODEL_HELP, add_input_limit_options, load_model_argument, set_input_limits
from kerasrnn.commands.parser import parse_verb  # noqa: F401 (the examples use it)


def add_evaluate_verb(verbs):
    """Add `evaluate` to the `kerasrnn` verbs (`verbs`: the parser's `add_subparsers()`), handled by `run_evaluate`.

    >>> parse_verb(add_evaluate_verb, ["evaluate", "runs/pos", "--data", "en_ewt-ud-test.conllu"]).data
    'en_ewt-ud-test.conllu'
    """
    evaluate = verbs.add_parser(
        "evaluate", help="score a model on real data", description="Print the task metrics as one JSON line."
    )
    evaluate.add_argument("model", help=MODEL_HELP)
    evaluate.add_argument(
        "--data", required=True, help="IMDB (test/ is scored), a CoNLL-U file, or a text file (last 10%%)"
    )
    add_input_limit_options(evaluate)
    evaluate.set_defaults(handler=run_evaluate)


def run_evaluate(arguments):
    """Score the model on the data the parsed command line names; print the metrics as one JSON line.

    Args:
        arguments: the parsed command line (see `add_evaluate_verb`).
    """
    from kerasrnn.training.evaluation import evaluate_on_data, progress_verbosity

    if not os.path.exists(arguments.data):
        raise FileNotFoundError(f"--data: {arguments.data!r} does not exist.")
    model = load_model_argument(arguments.model)
    set_input_limits(arguments, model)
    # A progress bar on a terminal (stderr); quiet in pipes and logs. stdout is the JSON line alone.
    print(json.dumps(evaluate_on_data(model, arguments.data, verbose=progress_verbosity()), sort_keys=True))
