"""The `kerasrnn` command line: train, evaluate, predict and generate.

Every verb has `--help`. User mistakes (a missing file, a bad option value,
empty text) end with one line on stderr and exit status 2, not a traceback.
"""

import argparse
import json
import os
import sys

TASKS = {"char-lm": "char_lm", "sentiment": "sentiment", "pos": "pos_tagger"}


def _add_builder_options(parser):
    group = parser.add_argument_group("model options (defaults: the builder's)")
    group.add_argument("--cell", choices=["simple_rnn", "lstm", "gru"])
    group.add_argument("--units", type=int)
    group.add_argument("--num-layers", type=int)
    group.add_argument(
        "--bidirectional", action=argparse.BooleanOptionalAction, help="sentiment and pos only"
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


BUILDER_OPTIONS = (
    "cell",
    "units",
    "num_layers",
    "bidirectional",
    "embedding_dim",
    "dropout",
    "recurrent_dropout",
    "kernel_initializer",
    "recurrent_initializer",
    "optimizer",
    "learning_rate",
    "clipnorm",
    "clipvalue",
    "global_clipnorm",
)
DATA_OPTIONS = {
    "char_lm": ("seq_len", "stateful"),
    "sentiment": ("vocab_size", "max_length"),
    "pos_tagger": ("tag_column",),
}


def build_parser():
    """The argument parser of the `kerasrnn` command.

    Example:

    >>> build_parser().parse_args(["evaluate", "runs/pos", "--data", "test.conllu"]).command
    'evaluate'
    """
    parser = argparse.ArgumentParser(prog="kerasrnn", description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = verbs.add_parser("train", help="train a model on real data", description="Train a model on real data.")
    train.add_argument("task", choices=list(TASKS))
    train.add_argument("--data", required=True, help="aclImdb folder/tarball, CoNLL-U folder/file, or text file")
    train.add_argument("--out", required=True, help="output folder (rerun to resume)")
    train.add_argument("--epochs", type=int, default=1)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--max-examples", type=int, help="train on a subset (reviews, sentences, or text windows)")
    train.add_argument("--seed", type=int, default=1337)
    train.add_argument("--tensorboard", metavar="DIR", help="also write TensorBoard logs to DIR")
    _add_builder_options(train)
    data = train.add_argument_group("data options")
    data.add_argument("--seq-len", type=int, help="char-lm: characters per TBPTT window (default 100)")
    data.add_argument("--stateful", action="store_true", help="char-lm: carry the state across windows")
    data.add_argument("--vocab-size", type=int, help="sentiment: vocabulary size (default 20000)")
    data.add_argument("--max-length", type=int, help="sentiment: tokens kept per review (default 400)")
    data.add_argument("--tag-column", choices=["upos", "xpos"], help="pos: which tags to learn (default upos)")

    evaluate = verbs.add_parser(
        "evaluate", help="score a trained model", description="Print the task metric as one JSON line."
    )
    evaluate.add_argument("model_dir")
    evaluate.add_argument(
        "--data", required=True, help="IMDB (test/ is scored), a CoNLL-U file, or a text file (last 10%%)"
    )

    predict = verbs.add_parser("predict", help="classify or tag a text", description="Classify or tag a text.")
    predict.add_argument("model_dir")
    predict.add_argument("text")

    generate = verbs.add_parser("generate", help="sample text from a char LM", description="Sample text.")
    generate.add_argument("model_dir")
    generate.add_argument("--prompt", required=True)
    generate.add_argument("--length", type=int, default=300)
    generate.add_argument("--temperature", type=float, default=1.0)
    generate.add_argument("--seed", type=int)
    return parser


def _picked(arguments, names):
    return {name: getattr(arguments, name) for name in names if getattr(arguments, name) not in (None, False)}


def run_train(arguments):
    from kerasrnn.training import train

    task = TASKS[arguments.task]
    metrics = train(
        task,
        arguments.data,
        arguments.out,
        builder_options=_picked(arguments, BUILDER_OPTIONS) | (
            {"bidirectional": False} if arguments.bidirectional is False else {}
        ),
        data_options=_picked(arguments, DATA_OPTIONS[task]),
        epochs=arguments.epochs,
        batch_size=arguments.batch_size,
        max_examples=arguments.max_examples,
        seed=arguments.seed,
        tensorboard_dir=arguments.tensorboard,
    )
    print(json.dumps(metrics, sort_keys=True))


def run_evaluate(arguments):
    from kerasrnn.training import load_trained
    from kerasrnn.workflows import WORKFLOWS

    model, spec = load_trained(arguments.model_dir)
    if not os.path.exists(arguments.data):
        raise FileNotFoundError(f"--data: {arguments.data!r} does not exist.")
    metrics = WORKFLOWS[spec["task"]].evaluate(model, arguments.data)
    print(json.dumps({"task": spec["task"], **metrics}, sort_keys=True))


def run_predict(arguments):
    from kerasrnn.training import load_trained
    from kerasrnn.workflows import WORKFLOWS

    model, spec = load_trained(arguments.model_dir)
    if spec["task"] == "char_lm":
        raise ValueError("This is a character language model: use `kerasrnn generate`.")
    result = WORKFLOWS[spec["task"]].predict(model, arguments.text)
    print(json.dumps(result))


def run_generate(arguments):
    from kerasrnn.training import load_trained
    from kerasrnn.workflows import WORKFLOWS

    model, spec = load_trained(arguments.model_dir)
    if spec["task"] != "char_lm":
        raise ValueError(f"`generate` needs a char-lm model; {arguments.model_dir!r} is a {spec['task']} model.")
    print(
        WORKFLOWS["char_lm"].generate(
            model, arguments.prompt, arguments.length, arguments.temperature, arguments.seed
        )
    )


COMMANDS = {"train": run_train, "evaluate": run_evaluate, "predict": run_predict, "generate": run_generate}


def main(argv=None):
    """Run the `kerasrnn` command; returns the exit status.

    Example:

    >>> main(["evaluate", "no/such/dir", "--data", "x"])  # doctest: +SKIP
    2
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    arguments = build_parser().parse_args(argv)
    try:
        COMMANDS[arguments.command](arguments)
    except (ValueError, FileNotFoundError, IsADirectoryError, PermissionError) as error:
        print(f"kerasrnn {arguments.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
