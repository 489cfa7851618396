"""`serve`: load the models, start polling, answer REST requests until interrupted."""

import logging
import os

from kerasrnn.serving.http_server import DEFAULT_MAX_BODY_BYTES, RestApiServer
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
):
    """Serve `models` over TF Serving's REST API until interrupted.

    Args:
        models: `[(name, base_path, VersionPolicy)]`, see `models_to_serve`.
        host: the address to bind (loopback by default: nothing is exposed
            unless asked).
        port: the TCP port; 0 picks a free one.
        poll_seconds: how often to look for new or deleted versions; 0 never.
        batching: None, or `{"max_batch_size": N, "batch_timeout_s": T}`.
        max_body_bytes: the largest request body accepted.
        ready: called with the bound `(host, port)` once requests are accepted.

    Example:

    >>> serve(models_to_serve("export/imdb"), port=8501)  # doctest: +SKIP
    """
    manager = ModelManager(models, batching=batching)
    manager.refresh()
    for name, base_path, _ in models:
        if not manager.models[name].servables:
            log.warning("No loadable version of model %s in %s yet; polling for one", name, base_path)
    server = RestApiServer((host, port), manager, max_body_bytes=max_body_bytes)
    if poll_seconds and poll_seconds > 0:
        manager.start_polling(poll_seconds)
    if ready is not None:
        ready(server.server_address[:2])
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        manager.stop()
