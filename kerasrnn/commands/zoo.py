"""The `kerasrnn zoo` verb: list, info, download, evaluate and package.

The maintainer commands (train, publish, baselines, table) write the
repository's `models/` and the task folders' `presets.json`, so they live in
the clone, not in the package: `python -m tools.zoo ACTION`. Here those
actions only say so.
"""

import argparse
import json
import os

# The maintainer actions that moved to `python -m tools.zoo` (run from a clone's root).
MAINTAINER_ACTIONS = ("train", "publish", "baselines", "table")


def moved_action_message(action):
    """The one line `kerasrnn zoo ACTION` prints for a maintainer action: where it lives now.

    Args:
        action: one of `MAINTAINER_ACTIONS`.

    Example:

    >>> print(moved_action_message("train"))
    `kerasrnn zoo train` is maintainer tooling, not part of the package: from a clone's root, run `python -m tools.zoo train ...`.
    """
    return (f"`kerasrnn zoo {action}` is maintainer tooling, not part of the package: from a clone's root, "
            f"run `python -m tools.zoo {action} ...`.")


def with_measurement_notes(entry):
    """An index entry with notes saying how its figures were measured, as `kerasrnn zoo info` prints it.

    `metrics` come from `model.evaluate` on the task's evaluation data, which
    `kerasrnn zoo evaluate` reproduces. The figures of `validation_curve`
    (and an averaged model's `validation`) come from training's validation
    data and batches: other data (a validation split, the dev set) or other batches (the
    char LM validates in its 64 training streams of 100-character windows,
    each from a zero state; `zoo evaluate` reads 8 streams of 512), so they
    differ from `metrics` (charlm-shakespeare-rnn: its curve ends at 1.6052
    nats/char, `metrics` and `zoo evaluate` give 1.6020).

    Args:
        entry: an index entry (`kerasrnn.zoo.info(name)`).

    Returns:
        A copy with `metrics_measured_by`, and `measured_by` in `validation_curve`
        (`validation_measured_by` beside `validation`) where present.

    Example:

    >>> from kerasrnn import zoo
    >>> notes = with_measurement_notes(zoo.info("charlm-shakespeare-rnn"))
    >>> notes["metrics_measured_by"].split(":")[0]
    'kerasrnn zoo evaluate charlm-shakespeare-rnn --data SHARED_DATA/tinyshakespeare/input.txt'
    >>> notes["validation_curve"]["measured_by"].split(",")[0]
    "training's validation pass after each epoch (model.fit)"
    """
    noted = dict(entry)
    recipe = entry.get("training_recipe") or {}
    noted["metrics_measured_by"] = (
        f"kerasrnn zoo evaluate {entry['name']} --data SHARED_DATA/{recipe.get('eval_data', 'EVALUATION_DATA')}: "
        "model.evaluate with the task's metrics on its evaluation data, dropout off; it reproduces these figures"
    )
    options = ", ".join(f"{key} {value}" for key, value in sorted((recipe.get("data_options") or {}).items()))
    training = (
        f"training's validation pass after each epoch (model.fit), on the validation part of: {entry.get('split')}; "
        f"in training's batches (batch_size {recipe.get('batch_size')}{', ' + options if options else ''}). "
        "Other data or batches than `kerasrnn zoo evaluate` scores, so not the figures of metrics"
    )
    if "validation_curve" in entry:
        noted["validation_curve"] = {**entry["validation_curve"], "measured_by": training}
    if "validation" in entry:
        # An averaged model is not trained: the average and each member are evaluated on training's validation batches.
        noted["validation_measured_by"] = training.replace(
            "training's validation pass after each epoch (model.fit)",
            "model.evaluate of the average (and in member_validation, of each member) when it was made")
    return noted


def add_zoo_verb(verbs):
    """Add `zoo` and its actions to the `kerasrnn` subparsers."""
    zoo = verbs.add_parser("zoo", help="pretrained models by name", description="The pretrained model zoo.")
    zoo.set_defaults(handler=run_zoo)
    actions = zoo.add_subparsers(dest="zoo_action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the available models")
    listing.add_argument("--json", action="store_true", help="one JSON entry per line")
    for action, text in (("info", "a model's index entry"), ("download", "fetch into the cache and verify")):
        actions.add_parser(action, help=text).add_argument("name")
    evaluate = actions.add_parser("evaluate", help="score a zoo model (one JSON line, as `kerasrnn evaluate`)")
    evaluate.add_argument("name")
    evaluate.add_argument("--data", required=True)
    package = actions.add_parser(
        "package", help="build pip-installable model wheels, one per task (one JSON line per wheel)",
        description="Build the model wheels (kerasrnn-zoo-TASK) that `pip install \"kerasrnn[zoo]\"` installs.",
    )
    package.add_argument("names", nargs="*", metavar="NAME", help="only the wheels holding these models (default: all)")
    package.add_argument("--out", required=True, help="the folder for the wheels")
    package.add_argument("--zoo-dir", help="the zoo folder with the .keras files (default: the clone's models/)")
    for action in MAINTAINER_ACTIONS:
        moved = actions.add_parser(action, help=f"moved: python -m tools.zoo {action} (in a clone)")
        moved.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def run_zoo(arguments):
    """Carry out a `kerasrnn zoo` action."""
    from kerasrnn import zoo

    action = arguments.zoo_action
    if action in MAINTAINER_ACTIONS:
        raise ValueError(moved_action_message(action))
    if action == "list":
        from kerasrnn.zoo.index import read_index

        from kerasrnn.tasks.registry import get_task

        for entry in read_index():
            if arguments.json:
                print(json.dumps(entry, sort_keys=True))
            else:
                score = get_task(entry["task"]).score
                shown = f"{score.format(entry['metrics'][score.key])} {score.label}"
                print(f"{entry['name']:28s} {entry['task']:11s} {entry['cell']:10s} {shown}")
    elif action == "info":
        print(json.dumps(with_measurement_notes(zoo.info(arguments.name)), indent=2, sort_keys=True))
    elif action == "download":
        paths = zoo.download(arguments.name)
        # An average prints its members' files, one a line.
        print("\n".join(paths) if isinstance(paths, list) else paths)
    elif action == "evaluate":
        from kerasrnn.training.evaluation import evaluate_on_data, progress_verbosity

        if not os.path.exists(arguments.data):
            raise FileNotFoundError(f"--data: {arguments.data!r} does not exist.")
        # As `kerasrnn evaluate`: a progress bar on a terminal (stderr), stdout the JSON line alone.
        metrics = evaluate_on_data(zoo.load(arguments.name), arguments.data, verbose=progress_verbosity())
        print(json.dumps(metrics, sort_keys=True))
    elif action == "package":
        from kerasrnn.zoo.packaging import build_model_wheels

        for wheel in build_model_wheels(arguments.out, arguments.names or None, zoo_dir=arguments.zoo_dir):
            print(json.dumps(wheel, sort_keys=True))

