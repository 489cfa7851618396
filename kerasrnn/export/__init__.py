"""SavedModel export for TensorFlow Serving: signatures, versioned atomic writes, config, warmup.

`export_for_serving(model, "export/NAME")` writes `export/NAME/<version>/`
(a SavedModel whose signatures take raw strings) and regenerates
`export/models.config`. The export depends on TensorFlow alone.
"""

from kerasrnn.export.export_for_serving import ExportedVersion, export_for_serving
from kerasrnn.export.models_config import build_models_config, write_models_config
from kerasrnn.export.versioned_write import ExportFolderError, existing_versions, next_version, write_version

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
