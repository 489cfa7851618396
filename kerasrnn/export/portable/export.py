"""`export_portable`: a kerasrnn task model → `base_path/<version>/model.onnx` or `model.tflite`, verified, atomically.

The version folder is what `kerasrnn.portable.load` reads, without
TensorFlow or Keras:

- `model.onnx` (opset 17) or `model.tflite` (LiteRT builtin ops only): the
  integer-id network, as in the Triton Inference Server model-repository
  layout (`<model>/<version>/model.onnx`);
- `preprocessing.json`: the task's vocabulary, label or tag names,
  characters and options, as plain JSON;
- `model.json`: the task, the file, its inputs and outputs (and the char
  LM's states), and the largest difference to Keras measured on a probe
  batch before anything was written.

The graph is converted and checked in memory first; only then is the
folder written, through `write_version` (a `temp-` folder renamed into
place under a lock), so a failed export leaves nothing behind.
"""

import dataclasses
import importlib.util
import json
import os

import keras
import numpy as np

from kerasrnn.export.task_name import exported_task_name
from kerasrnn.export.versioned_write import WrittenVersion, write_version
from kerasrnn.portable.models import MODEL_FILE, PREPROCESSING_FILE, SCHEMA_VERSION
from kerasrnn.serving.saved_model_layout import next_version
from kerasrnn.tasks.registry import get_task
from kerasrnn.validation import check_positive_int

FORMATS = ("onnx", "litert")
MODEL_FILES = {"onnx": "model.onnx", "litert": "model.tflite"}
# The exported graph must equal Keras to this on the probe batch, or nothing is written.
TOLERANCE = 1e-4


@dataclasses.dataclass
class PortableExport(WrittenVersion):
    """Where `export_portable` wrote a model: a `WrittenVersion` (`path`, `version`, `task`), and

    Attributes:
        format: `"onnx"` or `"litert"`.
        file: the model file's path.
        max_abs_difference: the largest difference to Keras' outputs on the probe batch.

    Example:

    >>> PortableExport("export/lm/1", 1, "char_lm", "onnx", "export/lm/1/model.onnx", 4e-06).file
    'export/lm/1/model.onnx'
    """

    format: str
    file: str
    max_abs_difference: float


def check_format(format, name="format"):
    """Return `format` if it is `"onnx"` or `"litert"`, else raise a one-line `ValueError` naming `name`.

    Example:

    >>> check_format("tflite")
    Traceback (most recent call last):
    ...
    ValueError: `format` must be one of 'saved_model', 'onnx', 'litert'. Received: format='tflite'
    """
    if format not in FORMATS:
        choices = ", ".join(repr(choice) for choice in ("saved_model",) + FORMATS)
        raise ValueError(f"`{name}` must be one of {choices}. Received: {name}={format!r}")
    return format


def _interface(model, interface):
    """The exported graph's interface: `{Keras input name: (exported name, shape)}` and the state sizes.

    The inputs are exported under the roles the task gives them (`token_ids`,
    a tagger's `char_ids`), whatever the Keras inputs are called.
    """
    network = model.network
    inputs = {}
    for tensor in network.inputs:
        inputs[tensor.name] = (interface.input_role(tensor), [None] * len(tensor.shape))
    state_sizes = []
    if interface.carries_state:
        for layer in network.layers:
            if isinstance(layer, keras.layers.RNN):
                count = 2 if isinstance(layer.cell, keras.layers.LSTMCell) else 1
                state_sizes += [int(layer.cell.units)] * count
    return inputs, state_sizes


def preprocessing_config(model, interface):
    """The task's preprocessing as plain JSON: what `kerasrnn.portable` needs to turn text into ids and back.

    Args:
        model: the task model being exported.
        interface: its task's `PortableInterface` (`TaskDescription.portable()`).

    Example:

    >>> from kerasrnn.tasks.char_lm import CharLanguageModel, CharLanguageModelPreprocessor, build_char_lm
    >>> from kerasrnn.tasks.registry import get_task
    >>> model = CharLanguageModel(build_char_lm(3, units=2, num_layers=1), CharLanguageModelPreprocessor(["a", "b"]))
    >>> preprocessing_config(model, get_task("char_lm").portable())
    {'task': 'char_lm', 'characters': ['a', 'b'], 'labels': ['[UNK]', 'a', 'b']}
    """
    return interface.preprocessing(model)


def _probe_inputs(model, interface, inputs, state_sizes, seed=0):
    """A small batch of in-range ids: right-padded rows of 9, 4 and 1 steps (and zero states)."""
    rng = np.random.default_rng(seed)
    lengths = np.array([9, 4, 1])
    real = np.arange(int(lengths.max()))[None, :] < lengths[:, None]
    probe = {role: interface.probe_ids(model, role, real, rng).astype("int32") for role, _ in inputs.values()}
    for index, size in enumerate(state_sizes):
        probe[f"state_{index}"] = np.zeros((3, size), "float32")
    return probe


def _keras_outputs(model, inputs, probe):
    feeds = {tensor.name: probe[inputs[tensor.name][0]] for tensor in model.network.inputs}
    return np.asarray(model.network(feeds if len(feeds) > 1 else next(iter(feeds.values())), training=False))


def build_portable(model, format):
    """Convert a task model's network to ONNX or LiteRT bytes; returns `(bytes, model.json's dict)`.

    Args:
        model: a `SentimentClassifier`, `PosTagger` or `CharLanguageModel`.
        format: `"onnx"` or `"litert"`.

    Raises:
        UnsupportedLayerError: a layer the export cannot rebuild (one line naming it and why).

    Example:

    >>> from kerasrnn import zoo
    >>> data, description = build_portable(zoo.load("charlm-shakespeare-rnn"), "onnx")  # doctest: +SKIP
    >>> description["states"]  # doctest: +SKIP
    [{'input': 'state_0', 'output': 'state_0_out', 'size': 256}, {'input': 'state_1', 'output': 'state_1_out', 'size': 256}]
    """
    check_format(format)
    task = exported_task_name(model)
    interface = get_task(task).portable()
    inputs, state_sizes = _interface(model, interface)
    output_name, carry = interface.output_name, interface.carries_state
    if format == "onnx":
        from kerasrnn.export.portable.onnx_graph import OPSET, network_model

        graph = network_model(model.network, inputs, output_name, carry, state_sizes,
                              doc_string=f"kerasrnn {task} model {model.name!r}")
        data, extra = graph.SerializeToString(), {"opset": OPSET}
    else:
        from kerasrnn.export.portable.litert_graph import convert_to_litert, network_function

        data = convert_to_litert(network_function(model.network, inputs, output_name, carry, state_sizes))
        extra = {"ops": "TFLITE_BUILTINS"}
    output_rank = len(model.network.outputs[0].shape)
    description = {
        "kerasrnn_portable": SCHEMA_VERSION,
        "task": task,
        "format": format,
        "file": MODEL_FILES[format],
        "model_name": model.name,
        "inputs": {role: {"dtype": "int32", "shape": shape} for _, (role, shape) in inputs.items()},
        "output": {"name": output_name, "dtype": "float32", "shape": [None] * output_rank},
        "states": [{"input": f"state_{index}", "output": f"state_{index}_out", "size": size}
                   for index, size in enumerate(state_sizes)],
        # ONNX's sequence_lens count each row's real ids: they must come first, then the padding (0).
        "padding": interface.padding,
        **extra,
    }
    return data, description


def verify_portable(model, data, description):
    """Run the exported bytes (onnxruntime or LiteRT) and Keras on a probe batch; returns the largest difference.

    The probe has right-padded rows of 9, 4 and 1 steps (for a tagger,
    words of 1 to 5 characters), so masks, both directions and padding
    are all exercised; the char LM gets zero states.

    Example:

    >>> verify_portable(model, *build_portable(model, "onnx"))  # doctest: +SKIP
    1.1920929e-07
    """
    from kerasrnn.portable.runtimes import open_runner

    interface = get_task(description["task"]).portable()
    inputs, state_sizes = _interface(model, interface)
    probe = _probe_inputs(model, interface, inputs, state_sizes)
    expected = _keras_outputs(model, inputs, probe)
    outputs = open_runner(description["format"], data)(**probe)
    return float(np.max(np.abs(outputs[description["output"]["name"]] - expected)))


def export_portable(model, base_path, format="onnx", version=None, overwrite=False):
    """Export a task model as `base_path/<version>/model.onnx` (or `model.tflite`) for `kerasrnn.portable`.

    The network is rebuilt layer by layer (never traced): ONNX with the
    standard LSTM/GRU/RNN operators and `sequence_lens`, LiteRT with
    builtin ops only (no Flex). Before anything is written the result is
    run (onnxruntime / ai-edge-litert) and compared with Keras on a probe
    batch; a difference above `TOLERANCE` is an error. The folder also
    gets `preprocessing.json` and `model.json`; it appears complete or not
    at all, as `export_for_serving`'s versions do.

    Args:
        model: a task model (`SentimentClassifier`, `PosTagger`,
            `CharLanguageModel`, an `average_of` ensemble), e.g. from `kerasrnn.zoo.load`.
        base_path: the model's folder; its integer subfolders are versions.
        format: `"onnx"` or `"litert"`.
        version: a positive integer; None writes the next one.
        overwrite: replace an existing version instead of refusing.

    Returns:
        A `PortableExport`.

    Raises:
        ValueError: an unknown format, a layer that cannot be converted
            (`UnsupportedLayerError`, naming it), an existing version, or
            a graph that does not match Keras.
        OSError: `base_path` cannot be written (`write_version`'s one-line errors).

    Example:

    >>> from kerasrnn import zoo
    >>> exported = export_portable(zoo.load("sentiment-imdb-bigru"), "export/imdb-onnx", "onnx")  # doctest: +SKIP
    >>> exported.file  # doctest: +SKIP
    'export/imdb-onnx/1/model.onnx'
    """
    check_format(format)
    _check_installed(format)
    if not isinstance(base_path, (str, os.PathLike)) or not str(base_path).strip():
        raise ValueError(f"`base_path` must be a folder path such as 'export/NAME'. Received: base_path={base_path!r}")
    base_path = os.path.normpath(os.fspath(base_path))
    _check_not_a_file(base_path)
    if version is not None and not overwrite:
        existing = os.path.join(base_path, str(check_positive_int("version", version)))
        if os.path.exists(existing):  # before the conversion's seconds; write_version checks again under its lock
            raise ValueError(f"Version {version} already exists at {existing!r}: pass overwrite=True (--overwrite) "
                             f"to replace it, or omit `version` to write version {next_version(base_path)}.")
    data, description = build_portable(model, format)
    difference = verify_portable(model, data, description)
    if not difference <= TOLERANCE:
        raise ValueError(f"The {format} graph of {model.name!r} differs from Keras by {difference:.3g} on the probe "
                         f"batch (tolerance {TOLERANCE}); nothing was written.")
    description["verified"] = {
        "max_abs_difference": difference,
        "tolerance": TOLERANCE,
        "probe": "3 right-padded rows of 9, 4 and 1 steps, against the Keras network",
    }
    preprocessing = preprocessing_config(model, get_task(description["task"]).portable())

    def write(folder):
        os.makedirs(folder)
        with open(os.path.join(folder, description["file"]), "wb") as file:
            file.write(data)
        for name, content in ((MODEL_FILE, description), (PREPROCESSING_FILE, preprocessing)):
            with open(os.path.join(folder, name), "w", encoding="utf-8") as file:
                json.dump(content, file, indent=1, ensure_ascii=False)
                file.write("\n")

    written = write_version(base_path, write, version=version, overwrite=overwrite)
    path = os.path.join(base_path, str(written))
    return PortableExport(path=path, version=written, task=description["task"], format=format,
                          file=os.path.join(path, description["file"]), max_abs_difference=difference)


# What each format's conversion and check import: a missing one is a one-line error, not a traceback.
REQUIRED_MODULES = {"onnx": ("onnx", "onnxruntime"), "litert": ("ai_edge_litert",)}


def _check_installed(format):
    missing = [name for name in REQUIRED_MODULES[format] if importlib.util.find_spec(name) is None]
    if missing:
        raise ValueError(f"The {format} export needs {', '.join(missing)}: pip install \"kerasrnn[portable]\".")


def _check_not_a_file(base_path):
    # Before the conversion's seconds, not after: a file where the folder should be.
    folder = base_path
    while folder and not os.path.exists(folder):
        folder = os.path.dirname(folder)
    if folder and not os.path.isdir(folder):
        raise ValueError(f"`base_path`: {folder!r} is a file, not a folder: give a folder such as 'export/NAME'.")


def run_export_command(arguments, load_model):
    """`kerasrnn export MODEL --format onnx|litert`: export and print one JSON line.

    The format is checked before the model is loaded. A base path that
    cannot be written is reported as `--base-path: ...`, as for SavedModels.

    Args:
        arguments: the parsed `kerasrnn export` arguments.
        load_model: the CLI's model loader (zoo name, `.keras`, folder, URL).

    Example:

    >>> import argparse
    >>> run_export_command(argparse.Namespace(format="tflite"), None)
    Traceback (most recent call last):
    ...
    ValueError: `--format` must be one of 'saved_model', 'onnx', 'litert'. Received: --format='tflite'
    """
    check_format(arguments.format, "--format")
    model = load_model(arguments.model)
    try:
        exported = export_portable(model, arguments.base_path, arguments.format, arguments.version,
                                   arguments.overwrite)
    except OSError as error:
        if isinstance(error, ValueError):  # write_version's one-line folder errors
            raise ValueError(f"--base-path: {error}") from None
        raise
    print(json.dumps({"path": exported.path, "version": exported.version, "format": exported.format,
                      "task": exported.task, "file": exported.file,
                      "max_abs_difference": exported.max_abs_difference}))
