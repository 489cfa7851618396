"""The `kerasrnn export` verb: a model to a versioned SavedModel (TF Serving), ONNX or LiteRT folder."""

import json

from kerasrnn.commands.parser import MODEL_HELP, load_model_argument
from kerasrnn.commands.parser import parse_verb  # noqa: F401 (the examples use it)


def add_export_verb(verbs):
    """Add `export` to the `kerasrnn` verbs (`verbs`: the parser's `add_subparsers()`), handled by `run_export`.

    >>> arguments = parse_verb(add_export_verb, ["export", "sentiment-imdb-bilstm", "--base-path", "export/imdb"])
    >>> arguments.format
    'saved_model'
    """
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
    export.set_defaults(handler=run_export)


def run_export(arguments):
    """Export as the parsed `kerasrnn export` command line says; print where, as one JSON line.

    Args:
        arguments: the parsed command line (see `add_export_verb`).
    """
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
