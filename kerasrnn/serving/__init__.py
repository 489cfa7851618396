"""A TF-Serving-compatible REST and gRPC server for SavedModels (`kerasrnn serve`).

It depends on TensorFlow (and TF Serving's config protos) alone: it loads
exports with `tf.saved_model.load`, never importing kerasrnn's model code,
so it serves exactly what TF Serving would.
"""

from kerasrnn.serving.errors import ServingError
from kerasrnn.serving.http_server import RestApiServer
from kerasrnn.serving.limits import RequestLimits
from kerasrnn.serving.model_manager import ModelManager
from kerasrnn.serving.serve import models_to_serve, serve
from kerasrnn.serving.version_policy import VersionPolicy

__all__ = ["ModelManager", "RequestLimits", "RestApiServer", "ServingError", "VersionPolicy", "models_to_serve",
           "serve"]
