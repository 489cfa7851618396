"""The `kerasrnn diagnose` verb: its options and its handler (kept out of cli.py)."""

import dataclasses
import json
import sys

from kerasrnn.commands.parser import parse_verb  # noqa: F401 (the examples use it)

DEFAULT_OUT = "reports/diagnostics"


def add_diagnose_verb(verbs):
    """Add `diagnose` to the `kerasrnn` verbs (`verbs`: the parser's `add_subparsers()`), handled by `run_diagnose`.

    >>> parse_verb(add_diagnose_verb, ["diagnose", "--data", "input.txt"]).seq_len
    200
    """
    from kerasrnn.diagnostics.config import CELLS, DiagnoseConfig

    defaults = DiagnoseConfig()
    diagnose = verbs.add_parser(
        "diagnose",
        help="measure and plot vanishing/exploding gradients, clipping, initialization",
        description="Compare gradient flow of SimpleRNN/LSTM/GRU (at init and after a short training), "
        "clipping modes over training, and recurrent initializers, on real data; write JSON and PNG plots.",
    )
    diagnose.add_argument(
        "--data", required=True,
        help="Tiny Shakespeare input.txt (char LM) or the aclImdb folder/tarball (sentiment, many-to-one)",
    )
    diagnose.add_argument("--out", default=DEFAULT_OUT, help=f"report folder (default {DEFAULT_OUT})")
    for field in dataclasses.fields(DiagnoseConfig):
        default = getattr(defaults, field.name)
        kind = type(default)
        diagnose.add_argument(
            "--" + field.name.replace("_", "-"),
            type=kind,
            default=default,
            choices=CELLS if field.name == "clip_cell" else None,
            help=f"default {default}",
        )
    diagnose.set_defaults(handler=run_diagnose)


def require_matplotlib():
    """Refuse to start without matplotlib, which draws the report's plots, in one line saying what to install.

    `kerasrnn diagnose` checks it first: the plots are written last, after
    minutes of measuring.

    Raises:
        ValueError: matplotlib cannot be imported.

    Example:

    >>> require_matplotlib()  # matplotlib is installed with kerasrnn[test]
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ValueError(
            f'the report\'s plots need matplotlib, which cannot be imported ({reason}): pip install "kerasrnn[diagnostics]"'
        ) from None


def run_diagnose(arguments):
    """Run the comparisons, write the report, print the headline figures as one JSON line."""
    require_matplotlib()
    from kerasrnn.diagnostics.config import DiagnoseConfig
    from kerasrnn.diagnostics.experiments import run_diagnosis
    from kerasrnn.diagnostics.report import summarize, write_report

    config = DiagnoseConfig(
        **{field.name: getattr(arguments, field.name) for field in dataclasses.fields(DiagnoseConfig)}
    )
    results = run_diagnosis(arguments.data, config, log=lambda line: print(line, file=sys.stderr, flush=True))
    written = write_report(results, arguments.out)
    summary = summarize(results)
    print(json.dumps({
        "out": arguments.out,
        "files": [path.rsplit("/", 1)[-1] for path in written],
        "seconds": results["seconds"],
        "jacobian_decay_rate_per_step": summary["jacobian_decay_rate_per_step"],
        "clip_fraction": summary["clip_fraction"],
    }, default=str))
