"""The `kerasrnn` command line: train, evaluate, predict, generate, export, serve, zoo, diagnose.

Every verb has `--help`. User mistakes (a missing file, a bad option value,
empty text, an unknown model) end with one line on stderr and exit status 2,
not a traceback. Wherever a verb takes a model it accepts a zoo name, a
`.keras` file, a `kerasrnn train` folder, a zoo folder or URL, or `hf://`.
"""

import argparse
import contextlib
import copy
import dataclasses
import json
import os
import sys

from kerasrnn.diagnostics.command import add_diagnose_verb, run_diagnose
from kerasrnn.tasks.registry import all_tasks, get_task
from kerasrnn.training.config import TrainingConfig
from kerasrnn.zoo.cli import add_zoo_verb, run_zoo

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
MODEL_HELP = "a zoo name, a .keras file, a `kerasrnn train` folder, a zoo folder or URL, or hf://OWNER/REPO"
# The exit status of a process stopped by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED_STATUS = 130
# The exit status of a process whose output pipe closed early (128 + SIGPIPE), as `yes | head` reports it.
BROKEN_PIPE_STATUS = 141


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Help that ends each option's text with its default, when it has a real one.

    Unlike `argparse.ArgumentDefaultsHelpFormatter` it leaves out
    `(default: None)` and `(default: False)` (an option that is off unless
    given), shows the default of an option without help text too, and keeps
    a help text that already says its default as written.

    Example:

    >>> parser = argparse.ArgumentParser(prog="demo", formatter_class=DefaultsHelpFormatter)
    >>> _ = parser.add_argument("--epochs", type=int, default=1, help="passes over the data")
    >>> _ = parser.add_argument("--seed", type=int, default=1337)
    >>> _ = parser.add_argument("--out")
    >>> print(parser.format_help())  # doctest: +NORMALIZE_WHITESPACE
    usage: demo [-h] [--epochs EPOCHS] [--seed SEED] [--out OUT]
    <BLANKLINE>
    options:
      -h, --help       show this help message and exit
      --epochs EPOCHS  passes over the data (default: 1)
      --seed SEED      (default: 1337)
      --out OUT
    """

    def _format_action(self, action):
        if not action.help and _has_default(action):
            action = copy.copy(action)
            action.help = "(default: %(default)s)"
        return super()._format_action(action)

    def _get_help_string(self, action):
        help_text = action.help or ""
        if _has_default(action) and "default" not in help_text.lower():
            help_text += " (default: %(default)s)"
        return help_text


def _has_default(action):
    return (action.option_strings and action.default not in (None, False, argparse.SUPPRESS)
            and not isinstance(action, argparse._HelpAction))


class CommandParser(argparse.ArgumentParser):
    """`argparse.ArgumentParser` with `DefaultsHelpFormatter`, which every verb's parser inherits.

    Example:

    >>> CommandParser(prog="demo").formatter_class.__name__
    'DefaultsHelpFormatter'
    """

    def __init__(self, *args, formatter_class=DefaultsHelpFormatter, **kwargs):
        super().__init__(*args, formatter_class=formatter_class, **kwargs)


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
    options = {}
    for task in all_tasks():
        for name, settings in {**task.builder_options, **task.data_options, **task.training_options}.items():
            settings = dict(settings)
            settings["help"] = f"{task.name}: {settings.get('help', '')}"
            if name in options:
                settings["help"] = f"{options[name]['help']}; {settings['help']}"
            options[name] = settings
    for name, settings in options.items():
        group.add_argument(f"--{name.replace('_', '-')}", **settings)


# Each task's bound on one input (its `prepare` option, also a model attribute): `train` has it among the
# task options, `evaluate` and `predict` take it too; a longer input is refused in one line.
INPUT_LIMITS = ("max_sentence_tokens", "max_review_characters")


def _add_input_limit_options(parser):
    group = parser.add_argument_group("bounds on one input (a longer one is refused in one line)")
    for task in all_tasks():
        for name, settings in task.data_options.items():
            if name in INPUT_LIMITS:
                group.add_argument(f"--{name.replace('_', '-')}", **{**settings, "help": f"{task.name}: {settings['help']}"})


def _set_input_limits(arguments, model):
    # A bound the user gave replaces the model's default; one of another task is refused, as in `train`.
    from kerasrnn.tasks.registry import task_of

    for name in INPUT_LIMITS:
        value = getattr(arguments, name)
        if value is None:
            continue
        if name not in model.input_limits():
            raise ValueError(f"--{name.replace('_', '-')}: not an option of the {task_of(model).name} task.")
        if value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be a positive integer. Received: {value}")
        setattr(model, name, value)


def build_parser():
    """The argument parser of the `kerasrnn` command.

    Example:

    >>> build_parser().parse_args(["evaluate", "runs/pos", "--data", "test.conllu"]).command
    'evaluate'
    """
    parser = CommandParser(prog="kerasrnn", description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="also show TensorFlow's own log lines")
    verbs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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

    evaluate = verbs.add_parser(
        "evaluate", help="score a model on real data", description="Print the task metrics as one JSON line."
    )
    evaluate.add_argument("model", help=MODEL_HELP)
    evaluate.add_argument(
        "--data", required=True, help="IMDB (test/ is scored), a CoNLL-U file, or a text file (last 10%%)"
    )
    _add_input_limit_options(evaluate)

    predict = verbs.add_parser("predict", help="classify or tag a text", description="Classify or tag a text.")
    predict.add_argument("model", help=MODEL_HELP)
    predict.add_argument("text", help="a review, or a sentence to tag (split on whitespace); UTF-8")
    _add_input_limit_options(predict)

    generate = verbs.add_parser("generate", help="sample text from a char LM", description="Sample text.")
    generate.add_argument("model", help=MODEL_HELP)
    generate.add_argument("--prompt", required=True)
    generate.add_argument("--length", type=int, default=300, help="characters to sample after the prompt")
    generate.add_argument("--temperature", type=float, default=1.0, help="0 = greedy")
    generate.add_argument("--seed", type=int, help="the same seed gives the same text (here, in Python, served)")
    _add_serving_verbs(verbs)
    add_zoo_verb(verbs)
    add_diagnose_verb(verbs)
    return parser


def _add_serving_verbs(verbs):
    export = verbs.add_parser(
        "export", help="export a trained model for TF Serving, ONNX or LiteRT",
        description="Write a versioned SavedModel (TF Serving), or an ONNX or LiteRT model with its preprocessing "
        "as JSON, which kerasrnn.portable runs without TensorFlow.",
    )
    export.add_argument("model", help=MODEL_HELP)
    export.add_argument("--base-path", required=True, help="the model's export folder, e.g. export/imdb")
    export.add_argument("--format", default="saved_model", metavar="{saved_model,onnx,litert}",
                        help="saved_model: DIR/<version>/saved_model.pb; onnx: DIR/<version>/model.onnx; litert: "
                        "DIR/<version>/model.tflite (default: saved_model)")
    export.add_argument("--version", type=int, help="default: one more than the newest existing version")
    export.add_argument("--overwrite", action="store_true", help="replace an existing version")

    serve = verbs.add_parser(
        "serve", help="serve exports over TF Serving's REST and gRPC APIs",
        description="Serve SavedModels over REST and gRPC. TF Serving's own flags (--port for gRPC, "
        "--rest_api_port, --model_config_file, --model_base_path, --model_name, --enable_batching, "
        "--batching_parameters_file, --file_system_poll_wait_seconds, --model_config_file_poll_wait_seconds) are "
        "accepted unchanged.",
    )

    def flag_bool(text):
        if text.lower() in ("true", "1", "yes"):
            return True
        if text.lower() in ("false", "0", "no"):
            return False
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")

    class flag(argparse.Action):  # noqa: N801 (an argparse action, named as used)
        """Stores an option and notes when TF Serving's spelling (`--model_base_path`) was used."""

        def __call__(self, parser, namespace, values, option_string=None):
            setattr(namespace, self.dest, values)
            if option_string and "_" in option_string:
                namespace.tf_serving_flags = True

    which = serve.add_mutually_exclusive_group(required=True)
    which.add_argument("--model-base-path", "--model_base_path", action=flag, help="one model's export folder")
    which.add_argument("--model-config-file", "--model_config_file", action=flag, help="a TF Serving model_config_list")
    serve.add_argument("--model-name", "--model_name", action=flag, help="with --model-base-path (default: the folder's "
                       "name; 'default' with TF Serving's flags)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="REST port (default 8501; 0 = any free port); "
                       "with TF Serving's flags, the gRPC port (default 8500)")
    serve.add_argument("--rest_api_port", type=int, action=flag, help="TF Serving's REST port flag (0 = no REST)")
    serve.add_argument("--grpc-port", type=int, help="gRPC port (default: no gRPC; 0 = any free port)")
    serve.add_argument("--num-versions", type=int, default=2, help="newest versions kept loaded (default 2)")
    serve.add_argument("--file-system-poll-wait-seconds", "--file_system_poll_wait_seconds", type=float, default=1.0,
                       action=flag, help="0 = never poll")
    serve.add_argument("--model-config-file-poll-wait-seconds", "--model_config_file_poll_wait_seconds", type=float,
                       default=0.0, action=flag, help="re-read --model-config-file this often and apply it, as TF "
                       "Serving does (default 0 = read only at start)")
    serve.add_argument("--enable-batching", "--enable_batching", nargs="?", const=True, default=False, type=flag_bool,
                       action=flag, help="merge concurrent predict calls")
    serve.add_argument("--batching_parameters_file", action=flag, help="TF Serving's BatchingParameters text proto")
    serve.add_argument("--max-batch-size", type=int, default=32)
    serve.add_argument("--batch-timeout-micros", type=int, default=2000)
    serve.add_argument("--max-body-bytes", type=int, default=16 * 1024 * 1024)
    serve.add_argument("--max-request-rows", type=int, default=4096, help="most rows per request")
    serve.add_argument("--max-request-cells", type=int, default=262_144, help="most rows x padded length per request")
    serve.add_argument("--max-generate-steps", type=int, default=65_536, help="most rows x max_length per generate")
    serve.add_argument("--request-timeout-seconds", type=float, default=30.0, help="deadline of one request")
    serve.add_argument("--max-connections", type=int, default=1024, help="REST connections beyond are refused")
    serve.add_argument("--read-timeout-seconds", type=float, default=30.0, help="time for a REST request's headers, "
                       "then body, and for a gRPC call's request message (stalled calls are cut)")
    serve.add_argument("--keep-alive-seconds", type=float, default=30.0, help="idle keep-alive connections close after")
    serve.add_argument("--shutdown-grace-seconds", type=float, default=20.0, help="on SIGTERM/SIGINT, stop accepting "
                       "and give the requests in flight this long to be answered (then 503 / UNAVAILABLE), then exit "
                       "0; a second signal stops at once (default 20: inside Kubernetes' 30 s before SIGKILL)")


def _picked(arguments, names):
    return {name: getattr(arguments, name) for name in names if getattr(arguments, name) not in (None, False)}


def load_model_argument(source):
    """Load the model a verb names (zoo name, `.keras`, train folder, URL, hf://)."""
    from kerasrnn.zoo import load

    return load(source)


def run_train(arguments):
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
        "builder_options": _picked(arguments, BUILDER_OPTIONS + tuple(task.builder_options))
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


def run_evaluate(arguments):
    from kerasrnn.training.evaluation import evaluate_on_data, progress_verbosity

    if not os.path.exists(arguments.data):
        raise FileNotFoundError(f"--data: {arguments.data!r} does not exist.")
    model = load_model_argument(arguments.model)
    _set_input_limits(arguments, model)
    # A progress bar on a terminal (stderr); quiet in pipes and logs. stdout is the JSON line alone.
    print(json.dumps(evaluate_on_data(model, arguments.data, verbose=progress_verbosity()), sort_keys=True))


def run_predict(arguments):
    from kerasrnn.data.input_checks import InputTooLongError, check_utf8_text
    from kerasrnn.tasks.registry import task_of

    text = check_utf8_text(arguments.text, "TEXT")  # before the model loads: the argument's bytes are known now
    model = load_model_argument(arguments.model)
    if task_of(model).verb != "predict":
        raise ValueError(f"{arguments.model!r} is a {type(model).__name__}: use `kerasrnn {task_of(model).verb}`.")
    _set_input_limits(arguments, model)
    try:
        answer = model.predict_text(text)
    except InputTooLongError as error:
        message = str(error)
        raise InputTooLongError(f"TEXT: {message[:1].lower()}{message[1:]}") from None
    print(json.dumps(answer))


def run_generate(arguments):
    from kerasrnn.data.input_checks import check_utf8_text
    from kerasrnn.tasks.registry import task_of

    check_utf8_text(arguments.prompt, "--prompt")
    model = load_model_argument(arguments.model)
    if task_of(model).verb != "generate":
        raise ValueError(
            f"`generate` needs a CharLanguageModel; {arguments.model!r} is a {type(model).__name__} "
            f"(use `kerasrnn {task_of(model).verb}`)."
        )
    print(model.generate(arguments.prompt, arguments.length, arguments.temperature, arguments.seed))


def run_export(arguments):
    if arguments.format != "saved_model":
        from kerasrnn.export.portable.export import run_export_command

        return run_export_command(arguments, load_model_argument)
    from kerasrnn.export import ExportFolderError, export_for_serving

    model = load_model_argument(arguments.model)
    try:
        exported = export_for_serving(model, arguments.base_path, arguments.version, arguments.overwrite)
    except ExportFolderError as error:
        raise ValueError(f"--base-path: {error}") from None
    print(json.dumps({"path": exported.path, "version": exported.version, "signatures": exported.signatures,
                      "models_config": exported.models_config}))


def run_serve(arguments):
    import logging

    from kerasrnn.serving import models_to_serve, serve
    from kerasrnn.serving.batching import read_batching_parameters
    from kerasrnn.serving.limits import RequestLimits

    tf_serving = getattr(arguments, "tf_serving_flags", False)
    rest_port, grpc_port = arguments.port if arguments.port is not None else 8501, arguments.grpc_port
    if tf_serving:  # TF Serving's meaning: --port is gRPC, --rest_api_port REST (0 = off)
        grpc_port = arguments.port if arguments.port is not None else 8500
        rest_port = arguments.rest_api_port or None
    names = ("port", "grpc_port", "rest_api_port", "num_versions", "max_batch_size", "batch_timeout_micros",
             "max_body_bytes", "max_request_rows", "max_request_cells", "max_generate_steps", "max_connections")
    for name in names:
        value = getattr(arguments, name)
        if value is not None and value < (0 if name in ("port", "grpc_port", "rest_api_port", "batch_timeout_micros") else 1):
            raise ValueError(f"--{name.replace('_', '-')} must be a {'non-negative' if 'port' in name else 'positive'} "
                             f"integer. Received: {value}")
    if not arguments.model_config_file_poll_wait_seconds >= 0:
        raise ValueError("--model-config-file-poll-wait-seconds must be a non-negative number. Received: "
                         f"{arguments.model_config_file_poll_wait_seconds}")
    for name in ("request_timeout_seconds", "read_timeout_seconds", "keep_alive_seconds"):
        if not getattr(arguments, name) > 0:
            raise ValueError(f"--{name.replace('_', '-')} must be a positive number. Received: {getattr(arguments, name)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    model_name = arguments.model_name or ("default" if tf_serving and arguments.model_base_path else None)
    models = models_to_serve(arguments.model_base_path, model_name, arguments.model_config_file, arguments.num_versions)
    batching = None
    if arguments.enable_batching or arguments.batching_parameters_file:
        batching = {"max_batch_size": arguments.max_batch_size,
                    "batch_timeout_s": arguments.batch_timeout_micros / 1e6}
        if arguments.batching_parameters_file:
            batching.update(read_batching_parameters(arguments.batching_parameters_file))
    limits = RequestLimits(arguments.max_request_rows, arguments.max_request_cells, arguments.max_generate_steps,
                           arguments.request_timeout_seconds)

    def ready(addresses):
        names = ", ".join(name for name, _, _ in models)
        if "rest" in addresses:
            host, port = addresses["rest"]
            print(f"kerasrnn serve: REST API on http://{host}:{port}/v1/models/ ({names})", flush=True)
        if "grpc" in addresses:
            host, port = addresses["grpc"]
            print(f"kerasrnn serve: gRPC API on {host}:{port} ({names})", flush=True)

    serve(models, arguments.host, rest_port, arguments.file_system_poll_wait_seconds, batching,
          arguments.max_body_bytes, ready, grpc_port=grpc_port, limits=limits,
          max_connections=arguments.max_connections, read_timeout_s=arguments.read_timeout_seconds,
          keep_alive_s=arguments.keep_alive_seconds, model_config_file=arguments.model_config_file,
          config_poll_seconds=arguments.model_config_file_poll_wait_seconds,
          shutdown_grace_s=arguments.shutdown_grace_seconds)


COMMANDS = {
    "train": run_train,
    "evaluate": run_evaluate,
    "predict": run_predict,
    "generate": run_generate,
    "export": run_export,
    "serve": run_serve,
    "zoo": run_zoo,
    "diagnose": run_diagnose,
}


@contextlib.contextmanager
def quiet_tensorflow_import():
    """Import TensorFlow with its C++ start-up lines (absl, CUDA probing) sent to /dev/null.

    TensorFlow writes them to file descriptor 2 before any Python logging
    is set up, so `TF_CPP_MIN_LOG_LEVEL` alone does not silence them; the
    descriptor is restored as soon as the import is done.

    Example:

    >>> with quiet_tensorflow_import():
    ...     pass
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                import keras  # noqa: F401
                import tensorflow  # noqa: F401
            finally:
                os.dup2(saved, 2)
        yield
    finally:
        os.close(saved)


def main(argv=None):
    """Run the `kerasrnn` command; returns the exit status.

    0 on success; 2 for a user mistake (one line on stderr); 130 when
    stopped by Ctrl-C (one line: for `train`, how to resume); 141 when the
    reader of the output went away early (`kerasrnn zoo info NAME | head -1`),
    quietly, as Python's documentation on SIGPIPE recommends.

    Args:
        argv: the arguments after `kerasrnn` (default: `sys.argv[1:]`).

    Example:

    >>> main(["evaluate", "no/such/dir", "--data", "x"])
    2
    """
    arguments = build_parser().parse_args(argv)
    if not arguments.verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        light = arguments.command == "zoo" and arguments.zoo_action in ("list", "info", "table", "package")
        if not light and "tensorflow" not in sys.modules:
            with quiet_tensorflow_import():
                pass
    try:
        COMMANDS[arguments.command](arguments)
        # Inside the try: a closed pipe shows up when the buffered output is written.
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        return BROKEN_PIPE_STATUS
    except KeyboardInterrupt:
        print(interrupted_message(arguments), file=sys.stderr)
        return INTERRUPTED_STATUS
    except (ValueError, FileNotFoundError, IsADirectoryError, PermissionError) as error:
        print(f"kerasrnn {arguments.command}: error: {error}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"kerasrnn {arguments.command}: error: out of memory (the input is larger than this machine can hold; "
              "use a smaller subset, e.g. --max-examples)", file=sys.stderr)
        return 2
    return 0


def interrupted_message(arguments):
    """The one line `kerasrnn` prints when Ctrl-C stops a command: for a training, where it stopped and how to resume.

    Args:
        arguments: the parsed command line.

    Example:

    >>> interrupted_message(build_parser().parse_args(["evaluate", "runs/pos", "--data", "dev.conllu"]))
    'kerasrnn evaluate: interrupted'
    >>> interrupted_message(build_parser().parse_args(["train", "char_lm", "--data", "x", "--out", "no/such/run"]))
    'kerasrnn train: interrupted before the first epoch ended; run the same command to start again'
    """
    command = f"kerasrnn {arguments.command}"
    if arguments.command == "train":
        out_dir = arguments.out
    elif arguments.command == "zoo" and arguments.zoo_action == "train":
        from kerasrnn.zoo.recipes import RUNS_DIR

        command, out_dir = "kerasrnn zoo train", os.path.join(RUNS_DIR, arguments.name)
    else:
        return f"{command}: interrupted"
    from kerasrnn.training.run_folder import BACKUP_DIR, checkpointed_epochs

    epochs = checkpointed_epochs(out_dir)
    if not epochs and arguments.command == "zoo":
        return f"{command}: interrupted; run the same command to resume"  # a recipe's pretraining keeps its own
    if not epochs:
        return f"{command}: interrupted before the first epoch ended; run the same command to start again"
    return (f"{command}: interrupted after epoch {epochs}; run the same command to resume "
            f"(checkpoint in {os.path.join(out_dir, BACKUP_DIR)})")


def _silence_stdout():
    # Python's advice (docs.python.org/3/library/signal.html#note-on-sigpipe): point
    # stdout at /dev/null, so the flush at exit does not fail a second time.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # stdout is no file descriptor (e.g. captured in-process): nothing is flushed at exit


if __name__ == "__main__":
    sys.exit(main())
