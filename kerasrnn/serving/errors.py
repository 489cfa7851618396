"""Errors as TF Serving reports them: a canonical status code, an HTTP status, a message."""

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
