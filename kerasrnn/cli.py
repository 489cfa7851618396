"""The `kerasrnn` command line: train, evaluate, predict, generate, export, serve, zoo, diagnose.

Every verb has `--help`. User mistakes (a missing file, a bad option value,
empty text, an unknown model) end with one line on stderr and exit status 2,
not a traceback. Wherever a verb takes a model it accepts a zoo name, a
`.keras` file, a `kerasrnn train` folder, a zoo folder or URL, or `hf://`.
"""

import contextlib
import os
import sys

from kerasrnn.commands.diagnose import add_diagnose_verb
from kerasrnn.commands.evaluate import add_evaluate_verb
from kerasrnn.commands.export import add_export_verb
from kerasrnn.commands.generate import add_generate_verb
from kerasrnn.commands.parser import CommandParser
from kerasrnn.commands.predict import add_predict_verb
from kerasrnn.commands.serve import add_serve_verb
from kerasrnn.commands.train import add_train_verb
from kerasrnn.commands.zoo import MAINTAINER_ACTIONS, add_zoo_verb

# The exit status of a process stopped by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED_STATUS = 130
# The exit status of a process whose output pipe closed early (128 + SIGPIPE), as `yes | head` reports it.
BROKEN_PIPE_STATUS = 141


def build_parser():
    """The argument parser of the `kerasrnn` command.

    Example:

    >>> build_parser().parse_args(["evaluate", "runs/pos", "--data", "test.conllu"]).command
    'evaluate'
    """
    parser = CommandParser(prog="kerasrnn", description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="also show TensorFlow's own log lines")
    verbs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    # Each verb adds itself and its handler, from its own module in kerasrnn/commands/.
    add_train_verb(verbs)
    add_evaluate_verb(verbs)
    add_predict_verb(verbs)
    add_generate_verb(verbs)
    add_export_verb(verbs)
    add_serve_verb(verbs)
    add_zoo_verb(verbs)
    add_diagnose_verb(verbs)
    return parser


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
        light = arguments.command == "zoo" and arguments.zoo_action in ("list", "info", "package", *MAINTAINER_ACTIONS)
        if not light and "tensorflow" not in sys.modules:
            with quiet_tensorflow_import():
                pass
    try:
        arguments.handler(arguments)
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
    if arguments.command != "train":
        return f"{command}: interrupted"
    out_dir = arguments.out
    from kerasrnn.training.run_folder import BACKUP_DIR, checkpointed_epochs

    epochs = checkpointed_epochs(out_dir)
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
