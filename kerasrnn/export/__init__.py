"""SavedModel export for TensorFlow Serving: signatures, versioned atomic writes, config, warmup.

`export_for_serving(model, "export/NAME")` writes `export/NAME/<version>/`
(a SavedModel whose signatures take raw strings) and regenerates
`export/models.config`. The export depends on TensorFlow alone; the folder
layout (version folders, `models.config`) is `kerasrnn.serving.saved_model_layout`'s,
the one the server reads.
"""

from kerasrnn.export.export_for_serving import ExportedVersion, export_for_serving
from kerasrnn.export.versioned_write import ExportFolderError, write_version
from kerasrnn.serving.saved_model_layout import build_models_config, existing_versions, next_version, write_models_config

__all__ = [
    "ExportFolderError",
    "ExportedVersion",
    "build_models_config",
    "existing_versions",
    "export_for_serving",
    "next_version",
    "write_models_config",
    "write_version",
]
