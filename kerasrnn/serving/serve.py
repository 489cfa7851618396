"""`serve`: load the models, start polling, answer REST and gRPC requests until stopped (SIGTERM, SIGINT)."""

import logging
import os
import sys

from kerasrnn.serving.http_server import (
    DEFAULT_KEEP_ALIVE_S,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_READ_TIMEOUT_S,
    RestApiServer,
)
from kerasrnn.serving.limits import RequestLimits
from kerasrnn.serving.model_manager import ModelManager
from kerasrnn.serving.saved_model_layout import read_model_config
from kerasrnn.serving.shutdown import DEFAULT_SHUTDOWN_GRACE_S, GracefulShutdown
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
    model_config_file=None,
    config_poll_seconds=0,
    shutdown_grace_s=DEFAULT_SHUTDOWN_GRACE_S,
):
    """Serve `models` over TF Serving's REST API (and its gRPC API) until SIGTERM or SIGINT.

    Both ports are bound before any model loads, so a port in use is a
    one-line `ValueError` at once. On the first SIGTERM/SIGINT both APIs stop
    accepting, the requests in flight get `shutdown_grace_s` seconds to be
    answered (then a JSON 503 / gRPC UNAVAILABLE, their queued work
    cancelled), and `serve` returns; a second signal ends the grace at once.
    A model call still running in a thread then cannot be stopped from
    Python and would hold the interpreter's exit: the process exits (status
    0) without waiting for it, as the signal asked.

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
        read_timeout_s: how long a REST request's headers, then body, may
            take; and a gRPC call's request message (stalled calls are cut).
        keep_alive_s: how long an idle REST connection stays open.
        model_config_file: the config file `models` came from, re-read every
            `config_poll_seconds` (TF Serving's
            `--model_config_file_poll_wait_seconds`); 0 reads it only at start.
        shutdown_grace_s: seconds the requests in flight get after the first
            SIGTERM/SIGINT (`--shutdown-grace-seconds`).

    Example:

    >>> serve(models_to_serve("export/imdb"), port=8501, grpc_port=8500)  # doctest: +SKIP
    """
    if port is None and grpc_port is None:
        raise ValueError("Serve at least one API: give a REST port, a gRPC port, or both.")
    limits = limits or RequestLimits()
    shutdown = GracefulShutdown([], shutdown_grace_s)  # the grace is checked before any port is bound
    manager = ModelManager(models, batching=batching)
    servers = {}
    try:
        if port is not None:
            servers["rest"] = RestApiServer((host, port), manager, max_body_bytes=max_body_bytes, limits=limits,
                                            max_connections=max_connections, read_timeout_s=read_timeout_s,
                                            keep_alive_s=keep_alive_s)
        if grpc_port is not None:
            from kerasrnn.serving.grpc_server import GrpcServer

            servers["grpc"] = GrpcServer((host, grpc_port), manager, limits=limits, max_message_bytes=max_body_bytes,
                                         read_timeout_s=read_timeout_s)
        shutdown.servers.extend(servers.values())
        manager.refresh()
    except BaseException:
        for server in servers.values():
            server.server_close()
        raise
    for name, base_path, _ in models:
        if not manager.models[name].servables:
            log.warning("No loadable version of model %s in %s yet; polling for one", name, base_path)
    with shutdown.on_signals():
        try:
            if "grpc" in servers:
                servers["grpc"].start()
            if poll_seconds and poll_seconds > 0:
                manager.start_polling(poll_seconds)
            if model_config_file and config_poll_seconds > 0:
                manager.watch_config(model_config_file, config_poll_seconds)
            if ready is not None:
                ready({api: server.server_address[:2] for api, server in servers.items()})
            if "rest" in servers:
                servers["rest"].serve_forever()  # until the shutdown begins and REST has answered
            else:
                shutdown.wait_requested()
        finally:
            abandoned = shutdown.wait_stopped()
            for server in servers.values():
                server.server_close()
    if abandoned and shutdown.signalled:
        log.warning("%d model call(s) still running after the grace are abandoned: exiting without waiting for "
                    "them", abandoned)
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    manager.stop()
