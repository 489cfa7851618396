"""Errors as TF Serving reports them: a canonical status code, an HTTP status, a message."""

import errno
import socket

# TF Serving's mapping of canonical codes to HTTP statuses
# (tensorflow_serving/model_servers/http_server.cc, ToHTTPStatusCode).
HTTP_STATUS = {
    "CANCELLED": 499,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "NOT_FOUND": 404,
    "PAYLOAD_TOO_LARGE": 413,
    "RESOURCE_EXHAUSTED": 429,
    "UNKNOWN": 500,
    "INTERNAL": 500,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
}


class ServingError(Exception):
    """A request that cannot be answered; becomes `{"error": message}` with `http_status`.

    Args:
        code: a canonical code name from `HTTP_STATUS` (e.g. `"INVALID_ARGUMENT"`).
        message: the text clients see, as specific as possible.

    Example:

    >>> error = ServingError("NOT_FOUND", "Could not find any versions of model imdb")
    >>> error.http_status, error.message
    (404, 'Could not find any versions of model imdb')
    """

    def __init__(self, code, message):
        if code not in HTTP_STATUS:
            raise ValueError(f"`code` must be one of {sorted(HTTP_STATUS)}. Received: code={code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = HTTP_STATUS[code]


def invalid_argument(message):
    """A 400 error, the status TF Serving gives a malformed request.

    Example:

    >>> invalid_argument("Missing 'inputs' or 'instances' key").http_status
    400
    """
    return ServingError("INVALID_ARGUMENT", message)


def cannot_listen(api, host, port, error=None):
    """The one-line `ValueError` for an API that cannot listen on `(host, port)`; None if nothing stops it.

    Args:
        api: "REST" or "gRPC", for the message.
        host: the address asked for.
        port: the port asked for.
        error: the `OSError` of a failed bind; None probes the address with
            a socket (grpcio gives no reason, and logs a line of its own when
            its bind fails: the probe comes first).

    Example:

    >>> import socket
    >>> with socket.socket() as taken:
    ...     taken.bind(("127.0.0.1", 0)); taken.listen()
    ...     print(cannot_listen("REST", "127.0.0.1", taken.getsockname()[1]))  # doctest: +ELLIPSIS
    Cannot serve the REST API on 127.0.0.1:...: the port is in use (another server listens there); stop it or choose another port
    """
    if error is None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # SO_REUSEADDR as the servers use it: a port left in TIME_WAIT is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
                return None
            except OSError as probed:
                error = probed
    if error.errno == errno.EADDRINUSE:
        reason = "the port is in use (another server listens there); stop it or choose another port"
    else:
        reason = error.strerror or str(error)
    return ValueError(f"Cannot serve the {api} API on {host}:{port}: {reason}")
