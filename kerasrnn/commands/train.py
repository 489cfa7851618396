"""The `kerasrnn train` verb: its options (the trainer's, the builder's and each task's) and its handler."""

import argparse
import dataclasses
import json
import sys

from kerasrnn.tasks.registry import all_tasks, get_task
from kerasrnn.training.config import TrainingConfig

from kerasrnn.commands.parser import parse_verb, task_option_flags  # noqa: F401 (the examples use parse_verb)


def add_train_verb(verbs):
    """Add `train` to the `kerasrnn` verbs (`verbs`: the parser's `add_subparsers()`), handled by `run_train`.

    >>> arguments = parse_verb(add_train_verb, ["train", "char_lm", "--data", "input.txt", "--out", "runs/lm", "--cell", "gru"])
    >>> arguments.cell
    'gru'
    """
    train = verbs.add_parser("train", help="train a model on real data", description="Train a model on real data.")
    train.add_argument(
        "task", choices=[task.name for task in all_tasks()],
        help="; ".join(f"{task.name}: {task.summary}" for task in all_tasks()),
    )
    train.add_argument(
        "--data", required=True, help="; ".join(f"{task.name}: {task.data_help}" for task in all_tasks())
    )
    train.add_argument(
        "--out", required=True,
        help="the run's folder: the same command resumes an interrupted run there; another run, or a finished "
        "one, is refused",
    )
    train.add_argument(
        "--overwrite", action="store_true",
        help="replace the run --out holds (its model, checkpoint and logs; other files stay)",
    )
    # The defaults are TrainingConfig's (the batch size: the task's), shown by --help.
    train.add_argument("--epochs", type=int, default=TrainingConfig.epochs, metavar="N",
                       help="passes over the training data")
    train.add_argument(
        "--batch-size", type=int,
        help="default: the task's (" + ", ".join(f"{task.name} {task.batch_size}" for task in all_tasks()) + ")",
    )
    train.add_argument(
        "--max-examples", type=int,
        help="train on a subset: reviews, sentences, or char_lm windows of --seq-len characters (rounded down to "
        "whole batches)",
    )
    train.add_argument("--seed", type=int, default=TrainingConfig.seed, help="seeds the weights, dropout and shuffling")
    train.add_argument("--tensorboard", dest="tensorboard_dir", metavar="DIR", help="also write TensorBoard logs to DIR")
    train.add_argument(
        "--keep-best", action="store_true", help="save the epoch with the best validation score, not the last"
    )
    train.add_argument("--patience", type=int, help="with --keep-best: stop after N epochs without improvement")
    train.add_argument(
        "--learning-rate-patience", type=int, metavar="N",
        help="multiply the learning rate by --learning-rate-factor after N epochs without improvement",
    )
    train.add_argument(
        "--learning-rate-factor", type=float, default=TrainingConfig.learning_rate_factor, metavar="F",
        help="with --learning-rate-patience: the factor, in (0, 1)",
    )
    train.add_argument(
        "--strategy", choices=["default", "mirrored", "multi-worker"], default=TrainingConfig.strategy,
        help="default: one device; mirrored: every local GPU (or logical CPU); multi-worker: the cluster in "
        "TF_CONFIG (--batch-size is the global batch; only the chief writes --out)",
    )
    train.add_argument(
        "--peer-timeout", type=float, default=TrainingConfig.peer_timeout, metavar="SECONDS",
        help="multi-worker: how long to wait for the other workers to come up",
    )
    _add_builder_options(train)
    _add_task_options(train)
    train.set_defaults(handler=run_train)


def _add_builder_options(parser):
    group = parser.add_argument_group("model options (defaults: the builder's)")
    group.add_argument("--cell", choices=["simple_rnn", "lstm", "gru"])
    group.add_argument("--units", type=int)
    group.add_argument("--num-layers", type=int)
    group.add_argument(
        "--bidirectional", action=argparse.BooleanOptionalAction, help="sentiment and pos_tagger only"
    )
    group.add_argument("--embedding-dim", type=int)
    group.add_argument("--dropout", type=float)
    group.add_argument("--recurrent-dropout", type=float)
    group.add_argument("--kernel-initializer", help="e.g. glorot_uniform, glorot_normal, he_uniform, he_normal")
    group.add_argument("--recurrent-initializer", help="default orthogonal")
    group.add_argument("--optimizer", help="adam, adamw, rmsprop, sgd, nadam or adagrad")
    group.add_argument("--learning-rate", type=float)
    clipping = group.add_mutually_exclusive_group()
    clipping.add_argument("--clipnorm", type=float)
    clipping.add_argument("--clipvalue", type=float)
    clipping.add_argument("--global-clipnorm", type=float)


def _add_task_options(parser):
    # Each task's own options come from its folder (task.py); an option given
    # to another task is refused in run_train with one line.
    # An option several tasks share (e.g. word_dropout) is one flag whose
    # help names each of them.
    group = parser.add_argument_group("task-specific options")
    flags = task_option_flags(lambda task: {**task.builder_options, **task.data_options, **task.training_options})
    for name, settings in flags.items():
        group.add_argument(f"--{name.replace('_', '-')}", **settings)


def _picked(arguments, names):
    return {name: getattr(arguments, name) for name in names if getattr(arguments, name) not in (None, False)}


def run_train(arguments):
    """Train as the parsed `kerasrnn train` command line says; print the metrics as one JSON line.

    Args:
        arguments: the parsed command line (see `add_train_verb`).
    """
    # The options every task takes are the backbone's and the optimizer's (their one definition; it
    # imports Keras, hence here): each has its flag in `_add_builder_options`.
    from kerasrnn.tasks.task_head import SHARED_OPTIONS
    from kerasrnn.training.trainer import train

    task = get_task(arguments.task)
    own = set(task.builder_options) | set(task.data_options) | set(task.training_options)
    every = {
        name for other in all_tasks()
        for name in (*other.builder_options, *other.data_options, *other.training_options)
    }
    misplaced = sorted(f"--{name.replace('_', '-')}" for name in _picked(arguments, every - own))
    if misplaced:
        raise ValueError(f"{', '.join(misplaced)}: not an option of the {task.name} task.")
    filled = {
        "task": task.name,
        "data_path": arguments.data,
        "out_dir": arguments.out,
        "builder_options": _picked(arguments, (*SHARED_OPTIONS, *task.builder_options))
        | ({"bidirectional": False} if arguments.bidirectional is False else {}),
        "data_options": _picked(arguments, tuple(task.data_options)),
        "task_options": _picked(arguments, tuple(task.training_options)),
        # Progress bars only where someone watches; one line per epoch in logs.
        "verbose": "auto" if sys.stdout.isatty() else 2,
    }
    # Every other option is the flag of the same name (all but `initial_weights`, which recipes use);
    # one left unset takes the config's default.
    given = vars(arguments)
    flags = {
        field.name: given[field.name]
        for field in dataclasses.fields(TrainingConfig)
        if field.name not in filled and given.get(field.name) is not None
    }
    config = TrainingConfig.from_dict({**filled, **flags})
    metrics = train(config.task, config.data_path, config.out_dir, **config.train_options())
    print(json.dumps(metrics, sort_keys=True))
