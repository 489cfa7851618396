"""The `kerasrnn serve` verb: TF Serving's flags (both spellings) and the handler that starts the server.

The handler imports `kerasrnn.serving` alone: a server process needs no task code.
"""

import argparse

from kerasrnn.commands.parser import parse_verb  # noqa: F401 (the examples use it)


def add_serve_verb(verbs):
    """Add `serve` to the `kerasrnn` verbs (`verbs`: the parser's `add_subparsers()`), handled by `run_serve`.

    >>> arguments = parse_verb(add_serve_verb, ["serve", "--model_base_path", "export/imdb", "--port", "8500"])
    >>> arguments.tf_serving_flags
    True
    """
    serve = verbs.add_parser(
        "serve", help="serve exports over TF Serving's REST and gRPC APIs",
        description="Serve SavedModels over REST and gRPC. TF Serving's own flags (--port for gRPC, "
        "--rest_api_port, --model_config_file, --model_base_path, --model_name, --enable_batching, "
        "--batching_parameters_file, --file_system_poll_wait_seconds, --model_config_file_poll_wait_seconds) are "
        "accepted unchanged.",
    )

    def flag_bool(text):
        if text.lower() in ("true", "1", "yes"):
            return True
        if text.lower() in ("false", "0", "no"):
            return False
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")

    class flag(argparse.Action):  # noqa: N801 (an argparse action, named as used)
        """Stores an option and notes when TF Serving's spelling (`--model_base_path`) was used."""

        def __call__(self, parser, namespace, values, option_string=None):
            setattr(namespace, self.dest, values)
            if option_string and "_" in option_string:
                namespace.tf_serving_flags = True

    which = serve.add_mutually_exclusive_group(required=True)
    which.add_argument("--model-base-path", "--model_base_path", action=flag, help="one model's export folder")
    which.add_argument("--model-config-file", "--model_config_file", action=flag, help="a TF Serving model_config_list")
    serve.add_argument("--model-name", "--model_name", action=flag, help="with --model-base-path (default: the folder's "
                       "name; 'default' with TF Serving's flags)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="REST port (default 8501; 0 = any free port); "
                       "with TF Serving's flags, the gRPC port (default 8500)")
    serve.add_argument("--rest_api_port", type=int, action=flag, help="TF Serving's REST port flag (0 = no REST)")
    serve.add_argument("--grpc-port", type=int, help="gRPC port (default: no gRPC; 0 = any free port)")
    serve.add_argument("--num-versions", type=int, default=2, help="newest versions kept loaded (default 2)")
    serve.add_argument("--file-system-poll-wait-seconds", "--file_system_poll_wait_seconds", type=float, default=1.0,
                       action=flag, help="0 = never poll")
    serve.add_argument("--model-config-file-poll-wait-seconds", "--model_config_file_poll_wait_seconds", type=float,
                       default=0.0, action=flag, help="re-read --model-config-file this often and apply it, as TF "
                       "Serving does (default 0 = read only at start)")
    serve.add_argument("--enable-batching", "--enable_batching", nargs="?", const=True, default=False, type=flag_bool,
                       action=flag, help="merge concurrent predict calls")
    serve.add_argument("--batching_parameters_file", action=flag, help="TF Serving's BatchingParameters text proto")
    serve.add_argument("--max-batch-size", type=int, default=32)
    serve.add_argument("--batch-timeout-micros", type=int, default=2000)
    serve.add_argument("--max-body-bytes", type=int, default=16 * 1024 * 1024)
    serve.add_argument("--max-request-rows", type=int, default=4096, help="most rows per request")
    serve.add_argument("--max-request-cells", type=int, default=262_144, help="most rows x padded length per request")
    serve.add_argument("--max-generate-steps", type=int, default=65_536, help="most rows x max_length per generate")
    serve.add_argument("--request-timeout-seconds", type=float, default=30.0, help="deadline of one request")
    serve.add_argument("--max-connections", type=int, default=1024, help="REST connections beyond are refused")
    serve.add_argument("--read-timeout-seconds", type=float, default=30.0, help="time for a REST request's headers, "
                       "then body, and for a gRPC call's request message (stalled calls are cut)")
    serve.add_argument("--keep-alive-seconds", type=float, default=30.0, help="idle keep-alive connections close after")
    serve.add_argument("--shutdown-grace-seconds", type=float, default=20.0, help="on SIGTERM/SIGINT, stop accepting "
                       "and give the requests in flight this long to be answered (then 503 / UNAVAILABLE), then exit "
                       "0; a second signal stops at once (default 20: inside Kubernetes' 30 s before SIGKILL)")
    serve.set_defaults(handler=run_serve)


def run_serve(arguments):
    """Serve as the parsed `kerasrnn serve` command line says, until SIGTERM or SIGINT.

    Args:
        arguments: the parsed command line (see `add_serve_verb`).
    """
    import logging

    from kerasrnn.serving import models_to_serve, serve
    from kerasrnn.serving.batching import read_batching_parameters
    from kerasrnn.serving.limits import RequestLimits

    tf_serving = getattr(arguments, "tf_serving_flags", False)
    rest_port, grpc_port = arguments.port if arguments.port is not None else 8501, arguments.grpc_port
    if tf_serving:  # TF Serving's meaning: --port is gRPC, --rest_api_port REST (0 = off)
        grpc_port = arguments.port if arguments.port is not None else 8500
        rest_port = arguments.rest_api_port or None
    names = ("port", "grpc_port", "rest_api_port", "num_versions", "max_batch_size", "batch_timeout_micros",
             "max_body_bytes", "max_request_rows", "max_request_cells", "max_generate_steps", "max_connections")
    for name in names:
        value = getattr(arguments, name)
        if value is not None and value < (0 if name in ("port", "grpc_port", "rest_api_port", "batch_timeout_micros") else 1):
            raise ValueError(f"--{name.replace('_', '-')} must be a {'non-negative' if 'port' in name else 'positive'} "
                             f"integer. Received: {value}")
    if not arguments.model_config_file_poll_wait_seconds >= 0:
        raise ValueError("--model-config-file-poll-wait-seconds must be a non-negative number. Received: "
                         f"{arguments.model_config_file_poll_wait_seconds}")
    for name in ("request_timeout_seconds", "read_timeout_seconds", "keep_alive_seconds"):
        if not getattr(arguments, name) > 0:
            raise ValueError(f"--{name.replace('_', '-')} must be a positive number. Received: {getattr(arguments, name)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    model_name = arguments.model_name or ("default" if tf_serving and arguments.model_base_path else None)
    models = models_to_serve(arguments.model_base_path, model_name, arguments.model_config_file, arguments.num_versions)
    batching = None
    if arguments.enable_batching or arguments.batching_parameters_file:
        batching = {"max_batch_size": arguments.max_batch_size,
                    "batch_timeout_s": arguments.batch_timeout_micros / 1e6}
        if arguments.batching_parameters_file:
            batching.update(read_batching_parameters(arguments.batching_parameters_file))
    limits = RequestLimits(arguments.max_request_rows, arguments.max_request_cells, arguments.max_generate_steps,
                           arguments.request_timeout_seconds)

    def ready(addresses):
        names = ", ".join(name for name, _, _ in models)
        if "rest" in addresses:
            host, port = addresses["rest"]
            print(f"kerasrnn serve: REST API on http://{host}:{port}/v1/models/ ({names})", flush=True)
        if "grpc" in addresses:
            host, port = addresses["grpc"]
            print(f"kerasrnn serve: gRPC API on {host}:{port} ({names})", flush=True)

    serve(models, arguments.host, rest_port, arguments.file_system_poll_wait_seconds, batching,
          arguments.max_body_bytes, ready, grpc_port=grpc_port, limits=limits,
          max_connections=arguments.max_connections, read_timeout_s=arguments.read_timeout_seconds,
          keep_alive_s=arguments.keep_alive_seconds, model_config_file=arguments.model_config_file,
          config_poll_seconds=arguments.model_config_file_poll_wait_seconds,
          shutdown_grace_s=arguments.shutdown_grace_seconds)
