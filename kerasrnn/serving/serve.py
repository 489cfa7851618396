"""`serve`: load the models, start polling, answer REST and gRPC requests until interrupted."""

import logging
import os

from kerasrnn.serving.http_server import (
    DEFAULT_KEEP_ALIVE_S,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_READ_TIMEOUT_S,
    RestApiServer,
)
from kerasrnn.serving.limits import RequestLimits
from kerasrnn.serving.model_config import read_model_config
from kerasrnn.serving.model_manager import ModelManager
from kerasrnn.serving.version_policy import VersionPolicy

log = logging.getLogger("kerasrnn.serving")


def models_to_serve(model_base_path=None, model_name=None, model_config_file=None, num_versions=1):
    """`[(name, base_path, VersionPolicy)]` from either a base path or a config file.

    Args:
        model_base_path: one model's folder (`export/NAME`).
        model_name: its serving name (default: the folder's name).
        model_config_file: a TF Serving `model_config_list` file instead.
        num_versions: with `model_base_path`, how many newest versions stay loaded.

    Example:

    >>> models_to_serve("export/imdb")[0][:2]
    ('imdb', 'export/imdb')
    """
    if (model_base_path is None) == (model_config_file is None):
        raise ValueError("Give exactly one of --model-base-path and --model-config-file.")
    if model_config_file is not None:
        return read_model_config(model_config_file)
    name = model_name or os.path.basename(os.path.normpath(model_base_path))
    return [(name, model_base_path, VersionPolicy("latest", num_versions=num_versions))]


def serve(
    models,
    host="127.0.0.1",
    port=8501,
    poll_seconds=1.0,
    batching=None,
    max_body_bytes=DEFAULT_MAX_BODY_BYTES,
    ready=None,
    grpc_port=None,
    limits=None,
    max_connections=DEFAULT_MAX_CONNECTIONS,
    read_timeout_s=DEFAULT_READ_TIMEOUT_S,
    keep_alive_s=DEFAULT_KEEP_ALIVE_S,
):
    """Serve `models` over TF Serving's REST API (and its gRPC API) until interrupted.

    Args:
        models: `[(name, base_path, VersionPolicy)]`, see `models_to_serve`.
        host: the address to bind (loopback by default: nothing is exposed
            unless asked).
        port: the REST port; 0 picks a free one; None serves no REST API.
        poll_seconds: how often to look for new or deleted versions; 0 never.
        batching: None, or `{"max_batch_size": N, "batch_timeout_s": T}`.
        max_body_bytes: the largest request body (or gRPC message) accepted.
        ready: called with `{"rest": (host, port), "grpc": (host, port)}`
            (only the APIs served) once requests are accepted.
        grpc_port: the gRPC port (PredictionService, ModelService); 0 picks
            a free one; None serves no gRPC API.
        limits: the `RequestLimits` of every request (default: `RequestLimits()`).
        max_connections: REST connections beyond this many are refused (503).
        read_timeout_s: how long a REST request's headers, then body, may take.
        keep_alive_s: how long an idle REST connection stays open.

    Example:

    >>> serve(models_to_serve("export/imdb"), port=8501, grpc_port=8500)  # doctest: +SKIP
    """
    if port is None and grpc_port is None:
        raise ValueError("Serve at least one API: give a REST port, a gRPC port, or both.")
    limits = limits or RequestLimits()
    manager = ModelManager(models, batching=batching)
    manager.refresh()
    for name, base_path, _ in models:
        if not manager.models[name].servables:
            log.warning("No loadable version of model %s in %s yet; polling for one", name, base_path)
    addresses = {}
    grpc_server = None
    if grpc_port is not None:
        from kerasrnn.serving.grpc_server import GrpcServer

        grpc_server = GrpcServer((host, grpc_port), manager, limits=limits, max_message_bytes=max_body_bytes)
        grpc_server.start()
        addresses["grpc"] = grpc_server.server_address
    server = None
    if port is not None:
        server = RestApiServer((host, port), manager, max_body_bytes=max_body_bytes, limits=limits,
                               max_connections=max_connections, read_timeout_s=read_timeout_s,
                               keep_alive_s=keep_alive_s)
        addresses["rest"] = server.server_address[:2]
    if poll_seconds and poll_seconds > 0:
        manager.start_polling(poll_seconds)
    if ready is not None:
        ready(addresses)
    try:
        if server is not None:
            server.serve_forever()
        else:
            grpc_server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.server_close()
        if grpc_server is not None:
            grpc_server.stop()
        manager.stop()
