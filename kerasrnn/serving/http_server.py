"""The REST API of TF Serving on the standard library's `ThreadingHTTPServer`.

Routes (case-insensitive, as TF Serving matches them):

    GET  /v1/models/NAME[/versions/N]             version status
    GET  /v1/models/NAME[/versions/N]/metadata    signature defs
    POST /v1/models/NAME[/versions/N]:predict     row or columnar format
    POST /v1/models/NAME[/versions/N]:classify|:regress  (no kerasrnn export has such a signature)
"""

import json
import logging
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kerasrnn.serving.errors import ServingError, invalid_argument
from kerasrnn.serving.json_tensors import parse_body, request_inputs, response_body, signature_name_of

log = logging.getLogger("kerasrnn.serving")

PREDICT_PATH = re.compile(r"(?i)/v1/models/([^/:]+)(?:/versions/(\d+))?:(classify|regress|predict)")
STATUS_PATH = re.compile(r"(?i)/v1/models(?:/([^/:]+))?(?:/versions/(\d+))?(/metadata)?")
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024


def _dumps(body):
    """Pretty JSON with one prediction (or one output) per line, as TF Serving prints it."""
    rows = body.get("predictions", body.get("outputs")) if isinstance(body, dict) and len(body) == 1 else None
    if isinstance(rows, list):
        key = next(iter(body))
        lines = ",\n".join("        " + json.dumps(row, ensure_ascii=False) for row in rows)
        return f'{{\n    "{key}": [\n{lines}\n    ]\n}}\n'
    if isinstance(rows, dict):
        lines = ",\n".join(f"        {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in rows.items())
        return f'{{\n    "outputs": {{\n{lines}\n    }}\n}}\n'
    return json.dumps(body, indent=4, ensure_ascii=False) + "\n"


def _version(text):
    return int(text) if text else None


class RestApiHandler(BaseHTTPRequestHandler):
    """Answers one HTTP request; the server it belongs to carries `manager` and `max_body_bytes`."""

    protocol_version = "HTTP/1.1"  # keep-alive, so benchmark clients reuse connections
    server_version = "kerasrnn-serve"

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        log.debug("%s %s", self.address_string(), format % args)

    def _reply(self, status, body):
        data = _dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, answer):
        try:
            self._reply(200, answer())
        except ServingError as error:
            if error.http_status >= 500:
                log.error("%s %s: %s", self.command, self.path, error.message)
            self._reply(error.http_status, {"error": error.message})
        except Exception as error:  # a bug must cost one request, never the server
            log.exception("Internal error answering %s %s", self.command, self.path)
            self._reply(500, {"error": f"Internal error: {type(error).__name__}: {error}"})

    def _path(self):
        return self.path.split("?", 1)[0]

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self._handle(self._get)

    def do_POST(self):  # noqa: N802
        self._handle(self._post)

    def _get(self):
        match = STATUS_PATH.fullmatch(self._path())
        if not match:
            raise ServingError("NOT_FOUND", f"Malformed request: GET {self._path()}")
        name, version, metadata = match.group(1), _version(match.group(2)), match.group(3)
        if not name:
            raise invalid_argument("Missing model name in request.")
        manager = self.server.manager
        if metadata:
            return manager.servable(name, version).metadata()
        return manager.status(name, version)

    def _read_body(self):
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            raise ServingError("UNIMPLEMENTED", "Chunked request bodies are not supported: send Content-Length")
        try:
            length = int(length or 0)
        except ValueError:
            self.close_connection = True
            raise invalid_argument(f"Malformed Content-Length header: {length!r}") from None
        limit = self.server.max_body_bytes
        if length > limit:
            # Not reading a body we refuse: the connection must close afterwards.
            self.close_connection = True
            raise ServingError(
                "PAYLOAD_TOO_LARGE",
                f"Request body of {length} bytes exceeds the server's limit of {limit} bytes (--max-body-bytes)",
            )
        return self.rfile.read(length) if length > 0 else b""

    def _post(self):
        body = self._read_body()
        match = PREDICT_PATH.fullmatch(self._path())
        if not match:
            raise invalid_argument(f"Malformed request: POST {self._path()}")
        name, version, method = match.group(1), _version(match.group(2)), match.group(3).lower()
        manager = self.server.manager
        servable = manager.servable(name, version)
        document = parse_body(body)
        signature_name = signature_name_of(document)
        signature = servable.signature(signature_name)
        if method != "predict":
            # TF Serving's classify/regress need a signature whose method_name
            # says so; kerasrnn exports only predict signatures.
            raise invalid_argument(
                f"Expected {'classification' if method == 'classify' else 'regression'} signature method_name "
                f"to be tensorflow/serving/{method}. Was: tensorflow/serving/predict "
                f"(use :predict with signature '{signature_name or 'serving_default'}')"
            )
        request_format, arrays = request_inputs(document, signature.input_dtypes)
        signature.check_shapes(arrays, signature_name or "serving_default")
        outputs = manager.predict(servable, signature_name, arrays)
        return response_body(outputs, request_format)


class RestApiServer(ThreadingHTTPServer):
    """A threading HTTP server bound to `(host, port)` that answers TF Serving's REST API.

    Args:
        address: `(host, port)`; port 0 picks a free port (see `server_address`).
        manager: the `ModelManager` holding the models.
        max_body_bytes: larger request bodies get 413 without being read.

    Example:

    >>> server = RestApiServer(("127.0.0.1", 0), manager)  # doctest: +SKIP
    >>> server.serve_forever()  # doctest: +SKIP
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, manager, max_body_bytes=DEFAULT_MAX_BODY_BYTES):
        if not isinstance(max_body_bytes, int) or max_body_bytes < 1:
            raise ValueError(f"`max_body_bytes` must be a positive integer. Received: {max_body_bytes!r}")
        self.manager = manager
        self.max_body_bytes = max_body_bytes
        super().__init__(address, RestApiHandler)
