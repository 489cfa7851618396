"""TF Serving's REST API: routes, answers and errors, as a plain function of (method, path, body).

Routes (case-insensitive, as TF Serving matches them):

    GET  /v1/models/NAME[/versions/N]             version status
    GET  /v1/models/NAME[/versions/N]/metadata    signature defs
    POST /v1/models/NAME[/versions/N]:predict     row or columnar format
    POST /v1/models/NAME[/versions/N]:classify|:regress  (no kerasrnn export has such a signature)

Every answer, errors included, is JSON formatted as TF Serving prints it;
an error is `{"error": "..."}` with the HTTP status of its canonical code.
Nothing here knows about sockets or HTTP framing: `http_server` carries
the requests to `RestApi.answer` and its answers back.
"""

import ctypes
import json
import logging
import re
import time

from kerasrnn.serving.errors import ServingError, invalid_argument
from kerasrnn.serving.json_tensors import parse_body, request_inputs, response_body, signature_name_of
from kerasrnn.serving.limits import RequestLimits

log = logging.getLogger("kerasrnn.serving")

PREDICT_PATH = re.compile(r"(?i)/v1/models/([^/:]+)(?:/versions/([0-9]+))?:(classify|regress|predict)")
STATUS_PATH = re.compile(r"(?i)/v1/models(?:/([^/:]+))?(?:/versions/([0-9]+))?(/metadata)?")


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


def json_reply(body):
    """The bytes of an answer's JSON `body`, one prediction (or output) per line as TF Serving prints it.

    Args:
        body: the answer, a JSON-serializable dict.

    Example:

    >>> print(json_reply({"predictions": [[0.9, 0.1]]}).decode())
    {
        "predictions": [
            [0.9, 0.1]
        ]
    }
    <BLANKLINE>
    """
    # A lone surrogate in a message (echoed from a request) becomes the
    # JSON escape "\ud800" instead of failing the whole reply.
    return _dumps(body).encode("utf-8", "backslashreplace")


def error_reply(message):
    """The bytes of TF Serving's error answer, `{"error": message}`.

    Args:
        message: the text the client sees.

    Example:

    >>> error_reply("Missing model name in request.")
    b'{\\n    "error": "Missing model name in request."\\n}\\n'
    """
    return json_reply({"error": message})


def _version(text):
    if not text:
        return None
    if len(text) > 19 or int(text) >= 2**63:
        raise invalid_argument(f"Version {text} is out of range: versions are 64-bit integers")
    return int(text)


def _release_memory():
    """Hand freed heap pages back to the system (glibc), so RSS falls after a large request."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _rows_in(document):
    """The batch size a predict body announces, counted without converting any value."""
    if isinstance(document.get("instances"), list):
        return len(document["instances"])
    inputs = document.get("inputs")
    if isinstance(inputs, list):
        return len(inputs)
    if isinstance(inputs, dict):
        return max((len(value) for value in inputs.values() if isinstance(value, list)), default=0)
    return 0


class RestApi:
    """TF Serving's REST API as a plain function of (method, path, body) → (status, JSON bytes).

    Args:
        manager: the `ModelManager` holding the models.
        limits: the `RequestLimits` every predict request is checked against.

    Example:

    >>> api = RestApi(manager, RequestLimits())  # doctest: +SKIP
    >>> api.answer("GET", "/v1/models/imdb", b"")[0]  # doctest: +SKIP
    200
    """

    def __init__(self, manager, limits=None):
        self.manager = manager
        self.limits = limits or RequestLimits()
        self._trimmed = 0.0

    def answer(self, method, path, body):
        """Answer one request; never raises (a bug costs one 500, never the server).

        Example:

        >>> RestApi(manager).answer("PUT", "/v1/models/imdb", b"")  # doctest: +SKIP
        (400, b'{\\n    "error": "Malformed request: PUT /v1/models/imdb"\\n}\\n')
        """
        try:
            if method == "GET":
                return 200, json_reply(self._get(path))
            if method == "POST":
                return 200, json_reply(self._post(path, body))
            raise invalid_argument(f"Malformed request: {method} {path}")
        except ServingError as error:
            if error.http_status >= 500:
                log.error("%s %s: %s", method, path, error.message)
            return error.http_status, error_reply(error.message)
        except RecursionError:
            return 400, error_reply("JSON Value nested too deeply")
        except MemoryError:
            return 429, error_reply("Out of memory answering the request: send a smaller one")
        except Exception as error:
            log.exception("Internal error answering %s %s", method, path)
            return 500, error_reply(f"Internal error: {type(error).__name__}: {error}")

    def _get(self, path):
        match = STATUS_PATH.fullmatch(path)
        if not match:
            raise ServingError("NOT_FOUND", f"Malformed request: GET {path}")
        name, version, metadata = match.group(1), _version(match.group(2)), match.group(3)
        if not name:
            raise invalid_argument("Missing model name in request.")
        if metadata:
            return self.manager.servable(name, version).metadata()
        return self.manager.status(name, version)

    def _post(self, path, body):
        match = PREDICT_PATH.fullmatch(path)
        if not match:
            raise invalid_argument(f"Malformed request: POST {path}")
        name, version, method = match.group(1), _version(match.group(2)), match.group(3).lower()
        servable = self.manager.servable(name, version)
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
        self.limits.check_rows(_rows_in(document))  # before converting a single value
        request_format, arrays = request_inputs(document, signature.input_dtypes)
        del document
        signature.check_shapes(arrays, signature_name or "serving_default")
        cells = self.limits.check(arrays)
        outputs = self.manager.predict(servable, signature_name, arrays)
        del arrays
        answer = response_body(outputs, request_format)
        if cells > 16384 and time.monotonic() - self._trimmed > 1.0:
            self._trimmed = time.monotonic()
            _release_memory()
        return answer
