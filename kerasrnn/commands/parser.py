"""What the `kerasrnn` verbs share: help that shows defaults, how a model is named and loaded, input bounds.

Light on purpose (argparse and the task registry): building the parser
never imports TensorFlow.
"""

import argparse
import copy

from kerasrnn.tasks.registry import all_tasks

MODEL_HELP = "a zoo name, a .keras file, a `kerasrnn train` folder, a zoo folder or URL, or hf://OWNER/REPO"


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


def task_option_flags(options_of):
    """The flags of every task's options that `options_of(task)` names, one per name.

    An option several tasks declare (e.g. `word_dropout`) becomes one flag:
    its help names each task, and its choices are all of theirs (a task
    still checks its own value).

    Args:
        options_of: a task description → `{option name: argparse keyword arguments}`.

    Returns:
        `{option name: argparse keyword arguments}`.

    Example:

    >>> flags = task_option_flags(lambda task: task.data_options)
    >>> flags["max_sentence_tokens"]["help"].split(":")[0]
    'pos_tagger'
    """
    merged = {}
    for task in all_tasks():
        for name, settings in options_of(task).items():
            settings = {**settings, "help": f"{task.name}: {settings.get('help', '')}"}
            if name in merged:
                previous = merged[name]
                settings["help"] = f"{previous['help']}; {settings['help']}"
                if "choices" in previous and "choices" in settings:
                    settings["choices"] = list(dict.fromkeys([*previous["choices"], *settings["choices"]]))
                else:
                    settings.pop("choices", None)
            merged[name] = settings
    return merged


def input_limit_names():
    """Every task's bounds on one input (each task's `TaskDescription.input_limits`), sorted.

    Example:

    >>> input_limit_names()
    ['max_review_characters', 'max_sentence_tokens']
    """
    return sorted({name for task in all_tasks() for name in task.input_limits})


def add_input_limit_options(parser):
    """Add each task's bound on one input (`--max-sentence-tokens`, ...) to a verb's parser.

    Args:
        parser: the verb's parser.

    Example:

    >>> parser = CommandParser(prog="demo")
    >>> add_input_limit_options(parser)
    >>> parser.parse_args(["--max-sentence-tokens", "50"]).max_sentence_tokens
    50
    """
    group = parser.add_argument_group("bounds on one input (a longer one is refused in one line)")
    flags = task_option_flags(lambda task: {name: task.data_options[name] for name in task.input_limits})
    for name, settings in flags.items():
        group.add_argument(f"--{name.replace('_', '-')}", **settings)


def set_input_limits(arguments, model):
    """Give `model` the bounds on one input that the command line names (a bound of another task is refused).

    Args:
        arguments: the parsed command line of a verb with `add_input_limit_options`.
        model: the task model the verb runs.

    Raises:
        ValueError: a bound of another task, or not a positive integer.
    """
    from kerasrnn.tasks.registry import task_of

    for name in input_limit_names():
        value = getattr(arguments, name, None)
        if value is None:
            continue
        if name not in model.input_limits():
            raise ValueError(f"--{name.replace('_', '-')}: not an option of the {task_of(model).name} task.")
        if value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be a positive integer. Received: {value}")
        setattr(model, name, value)


def load_model_argument(source):
    """Load the model a verb names (zoo name, `.keras`, train folder, URL, hf://).

    Args:
        source: the verb's MODEL argument.

    Example:

    >>> load_model_argument("charlm-shakespeare-rnn").task_name  # doctest: +SKIP
    'char_lm'
    """
    from kerasrnn.zoo import load

    return load(source)


def parse_verb(add_verb, argv):
    """Parse `argv` with a `kerasrnn` parser that has only the verb `add_verb` adds (the verbs' examples use it).

    Args:
        add_verb: one of the `add_<verb>_verb` functions of `kerasrnn.commands`.
        argv: the command line after `kerasrnn`.

    Example:

    >>> def add_hello_verb(verbs):
    ...     verbs.add_parser("hello").add_argument("--name", default="world")
    >>> parse_verb(add_hello_verb, ["hello"]).name
    'world'
    """
    parser = CommandParser(prog="kerasrnn")
    add_verb(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)
