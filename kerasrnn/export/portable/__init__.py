"""Portable exports: ONNX and LiteRT graphs rebuilt from a trained network, run without TensorFlow.

`export_portable(model, "export/NAME", "onnx")` writes
`export/NAME/<version>/model.onnx` (or `model.tflite` for `"litert"`) with
`preprocessing.json` and `model.json` beside it; `kerasrnn.portable.load`
reads that folder with numpy and onnxruntime or ai-edge-litert alone.
"""

from kerasrnn.export.portable.export import (
    FORMATS,
    PortableExport,
    build_portable,
    check_format,
    export_portable,
    verify_portable,
)
from kerasrnn.export.portable.network import UnsupportedLayerError

__all__ = ["FORMATS", "PortableExport", "UnsupportedLayerError", "build_portable", "check_format",
           "export_portable", "verify_portable"]
