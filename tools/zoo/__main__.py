"""`python -m tools.zoo ACTION`: the zoo's maintainer commands, run from a clone's root.

Example:

>>> build_parser().parse_args(["train", "pos-ewt-bilstm", "--overwrite"]).overwrite
True
"""

import json
import os
import sys

from kerasrnn.commands.parser import CommandParser

PROGRAM = "python -m tools.zoo"
DEFAULT_SHARED_DATA = os.path.join("..", "shared", "data")


def build_parser():
    """The parser of `python -m tools.zoo`: train, publish, baselines, table and index.

    Example:

    >>> build_parser().parse_args(["publish", "pos-ewt-bilstm", "--latency-only"]).latency_only
    True
    """
    # CommandParser, as every `kerasrnn` verb: each option's help shows its default.
    parser = CommandParser(prog=PROGRAM, description="The zoo's maintainer commands (run from a clone).")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, text in (("train", "train or resume a recipe (long)"), ("publish", "measure a trained recipe, write its preset")):
        command = actions.add_parser(action, help=text)
        command.add_argument("name")
        command.add_argument("--shared-data", default=DEFAULT_SHARED_DATA, help="folder of the real data sets")
        if action == "train":
            command.add_argument("--epochs", type=int, help="override the recipe's epochs")
            command.add_argument("--overwrite", action="store_true",
                                 help="replace a finished or differently configured run of the recipe (its pretraining is kept)")
            command.add_argument(
                "--strategy", choices=["default", "mirrored", "multi-worker"], default="default",
                help="as for `kerasrnn train`; multi-worker reads TF_CONFIG and only the chief writes the run",
            )
        else:
            command.add_argument("--latency-only", action="store_true", help="only measure the CPU latency again")
    baselines = actions.add_parser("baselines", help="measure each task's simple baseline (models/baselines.json)")
    baselines.add_argument("--shared-data", default=DEFAULT_SHARED_DATA, help="folder of the real data sets")
    baselines.add_argument("--task", action="append", help="only this task (repeatable)")
    table = actions.add_parser("table", help="print the zoo table (Markdown), or write it into a README")
    table.add_argument("--update-readme", metavar="PATH", help="replace the table between the zoo markers of PATH")
    index = actions.add_parser("index", help="generate models/index.json from the task folders' presets.json")
    index.add_argument("--check", action="store_true", help="only check the committed file is the generated one")
    return parser


def run(arguments):
    """Carry out one action; returns the exit status.

    Example:

    >>> run(build_parser().parse_args(["index", "--check"]))
    0
    """
    action = arguments.action
    if action == "train":
        from tools.zoo.recipes import train_recipe

        print(json.dumps(train_recipe(arguments.name, arguments.shared_data, epochs=arguments.epochs,
                                      strategy=arguments.strategy, overwrite=arguments.overwrite)))
    elif action == "publish" and arguments.latency_only:
        from tools.zoo.latency import remeasure_latency

        print(json.dumps(remeasure_latency(arguments.name), indent=2, sort_keys=True))
    elif action == "publish":
        from tools.zoo.publishing import publish

        print(json.dumps(publish(arguments.name, arguments.shared_data), indent=2, sort_keys=True))
    elif action == "baselines":
        from tools.zoo.baselines import measure_baselines

        for baseline in measure_baselines(arguments.shared_data, arguments.task):
            print(json.dumps(baseline, sort_keys=True))
    elif action == "table":
        from kerasrnn.zoo.index import read_index
        from tools.zoo.baselines import read_baselines
        from tools.zoo.table import markdown_table, update_readme

        if arguments.update_readme:
            update_readme(arguments.update_readme, read_index(), read_baselines())
        else:
            print(markdown_table(read_index(), read_baselines()))
    elif action == "index":
        from tools.zoo.models_index import generated_index_text, write_models_index
        from tools.zoo.repository import MODELS_DIR

        path = os.path.join(MODELS_DIR, "index.json")
        if not arguments.check:
            print(write_models_index(MODELS_DIR))
        elif not os.path.isfile(path) or open(path, encoding="utf-8").read() != generated_index_text():
            print(f"{PROGRAM} index: {path} is not what the presets generate; run `{PROGRAM} index`.", file=sys.stderr)
            return 1
    return 0


def main(argv=None):
    """Run `python -m tools.zoo`; returns the exit status (130 after Ctrl-C, with how to resume).

    Example:

    >>> main(["index", "--check"])
    0
    """
    arguments = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        return run(arguments)
    except KeyboardInterrupt:
        resume = "; run the same command to resume" if arguments.action == "train" else ""
        print(f"{PROGRAM} {arguments.action}: interrupted{resume}", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError) as error:
        print(f"{PROGRAM} {arguments.action}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
