"""The `kerasrnn generate` verb: text sampled from a character language model after a prompt."""

from kerasrnn.commands.parser import MODEL_HELP, load_model_argument
from kerasrnn.commands.parser import parse_verb  # noqa: F401 (the examples use it)


def add_generate_verb(verbs):
    """Add `generate` to the `kerasrnn` verbs (`verbs`: the parser's `add_subparsers()`), handled by `run_generate`.

    >>> parse_verb(add_generate_verb, ["generate", "charlm-shakespeare-lstm", "--prompt", "ROMEO:"]).length
    300
    """
    generate = verbs.add_parser("generate", help="sample text from a char LM", description="Sample text.")
    generate.add_argument("model", help=MODEL_HELP)
    generate.add_argument("--prompt", required=True)
    generate.add_argument("--length", type=int, default=300, help="characters to sample after the prompt")
    generate.add_argument("--temperature", type=float, default=1.0, help="0 = greedy")
    generate.add_argument("--seed", type=int, help="the same seed gives the same text (here, in Python, served)")
    generate.set_defaults(handler=run_generate)


def run_generate(arguments):
    """Sample text after the parsed command line's prompt; print it.

    Args:
        arguments: the parsed command line (see `add_generate_verb`).
    """
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
