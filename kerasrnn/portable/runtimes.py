"""Run an exported graph with onnxruntime or ai-edge-litert: named numpy arrays in, named arrays out.

Neither runtime imports TensorFlow; each is imported only when a model of
its format is opened, so a machine needs only the one it uses.
"""

import importlib

import numpy as np


def _runtime(module, package):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"This model needs {package}: pip install {package} (or pip install \"kerasrnn[portable]\")."
                          ) from None


class OnnxRunner:
    """An onnxruntime session on the CPU, called with keyword arrays.

    Args:
        model: the `model.onnx` path, or its bytes.
        threads: intra-op threads (None: onnxruntime's default, one per core).

    Example:

    >>> runner = OnnxRunner("export/imdb-onnx/1/model.onnx")  # doctest: +SKIP
    >>> runner(token_ids=np.array([[12, 7, 0]], "int32"))["probabilities"].shape  # doctest: +SKIP
    (1, 2)
    """

    format = "onnx"

    def __init__(self, model, threads=None):
        onnxruntime = _runtime("onnxruntime", "onnxruntime")

        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        self.session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self.output_names = [output.name for output in self.session.get_outputs()]

    def __call__(self, **inputs):
        outputs = self.session.run(self.output_names, {name: np.asarray(value) for name, value in inputs.items()})
        return dict(zip(self.output_names, outputs))


class LiteRtRunner:
    """A LiteRT interpreter's signature runner (builtin ops only), called with keyword arrays.

    Input shapes may change from call to call (batch and time are
    dynamic); the runner resizes the interpreter's tensors as needed.

    Args:
        model: the `model.tflite` path, or its bytes.
        threads: interpreter threads (None: LiteRT's default).

    Example:

    >>> runner = LiteRtRunner("export/imdb-litert/1/model.tflite")  # doctest: +SKIP
    >>> runner(token_ids=np.array([[12, 7, 0]], "int32"))["probabilities"].shape  # doctest: +SKIP
    (1, 2)
    """

    format = "litert"

    def __init__(self, model, threads=None):
        Interpreter = _runtime("ai_edge_litert.interpreter", "ai-edge-litert").Interpreter

        source = {"model_content": bytes(model)} if isinstance(model, (bytes, bytearray)) else {"model_path": model}
        self.interpreter = Interpreter(**source, num_threads=threads)
        self.runner = self.interpreter.get_signature_runner()

    def __call__(self, **inputs):
        return self.runner(**{name: np.asarray(value) for name, value in inputs.items()})


RUNNERS = {"onnx": OnnxRunner, "litert": LiteRtRunner}


def open_runner(format, model, threads=None):
    """The runner of `format` (`"onnx"` or `"litert"`) for a model file path or its bytes.

    Example:

    >>> open_runner("coreml", b"")
    Traceback (most recent call last):
    ...
    ValueError: `format` must be 'onnx' or 'litert'. Received: format='coreml'
    """
    if format not in RUNNERS:
        raise ValueError(f"`format` must be 'onnx' or 'litert'. Received: format={format!r}")
    return RUNNERS[format](model, threads=threads)
