"""The REST API of TF Serving on uvicorn (strict HTTP/1.1 parsing by h11).

Routes (case-insensitive, as TF Serving matches them):

    GET  /v1/models/NAME[/versions/N]             version status
    GET  /v1/models/NAME[/versions/N]/metadata    signature defs
    POST /v1/models/NAME[/versions/N]:predict     row or columnar format
    POST /v1/models/NAME[/versions/N]:classify|:regress  (no kerasrnn export has such a signature)

The standard library's `http.server` is documented as not meant for
production; here uvicorn's h11 protocol parses HTTP strictly (a bad
`Content-Length`, a duplicated one with two values, an unsupported
`Transfer-Encoding`: refused, the connection closed), and `_Protocol` adds
what a server facing the internet needs and uvicorn leaves to a proxy:

* a connection cap: connections beyond `max_connections` get a 503 and are
  closed at once (when descriptors run out, asyncio pauses accepting for a
  second instead of spinning);
* a read timeout: a request's headers must arrive within `read_timeout_s`
  of the connection opening (or of the previous answer), and its body within
  `read_timeout_s` of its headers; otherwise 408 and the connection closes;
* an idle keep-alive timeout (`keep_alive_s`);
* every refusal in TF Serving's error shape, `{"error": "..."}` as JSON.

Requests are parsed, run and formatted in a thread pool, so the event loop
keeps accepting and answering other clients, and each request has a deadline
(`RequestLimits.deadline_s`): past it the client gets 504 DEADLINE_EXCEEDED.

On shutdown (`begin_shutdown`) the listening socket closes, idle
connections close, and the requests in flight are answered (with
`connection: close`), or get a JSON 503 when the grace ends, their queued
work cancelled. uvicorn's own signal handling is left out: it re-raised
SIGTERM once REST had stopped, killing the process before anything else
(the gRPC API) could finish.
"""

import asyncio
import concurrent.futures
import contextlib
import ctypes
import errno
import json
import logging
import os
import re
import resource
import socket
import threading
import time
import urllib.parse

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from kerasrnn.serving.errors import ServingError, cannot_listen, invalid_argument
from kerasrnn.serving.json_tensors import parse_body, request_inputs, response_body, signature_name_of
from kerasrnn.serving.limits import RequestLimits
from kerasrnn.serving.shutdown import GraceTimer, StoppableServer, first_of

log = logging.getLogger("kerasrnn.serving")

PREDICT_PATH = re.compile(r"(?i)/v1/models/([^/:]+)(?:/versions/([0-9]+))?:(classify|regress|predict)")
STATUS_PATH = re.compile(r"(?i)/v1/models(?:/([^/:]+))?(?:/versions/([0-9]+))?(/metadata)?")
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_CONNECTIONS = 1024
DEFAULT_READ_TIMEOUT_S = 30.0
DEFAULT_KEEP_ALIVE_S = 30.0
DEFAULT_WORKERS = 64
_REASONS = {400: "Bad Request", 408: "Request Timeout", 413: "Payload Too Large", 431: "Request Header Fields Too Large",
            501: "Not Implemented", 503: "Service Unavailable", 504: "Gateway Timeout"}


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


def _encode(body):
    # A lone surrogate in a message (echoed from a request) becomes the
    # JSON escape "\ud800" instead of failing the whole reply.
    return _dumps(body).encode("utf-8", "backslashreplace")


def _error_bytes(status, message):
    return _encode({"error": message})


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
                return 200, _encode(self._get(path))
            if method == "POST":
                return 200, _encode(self._post(path, body))
            raise invalid_argument(f"Malformed request: {method} {path}")
        except ServingError as error:
            if error.http_status >= 500:
                log.error("%s %s: %s", method, path, error.message)
            return error.http_status, _error_bytes(error.http_status, error.message)
        except RecursionError:
            return 400, _error_bytes(400, "JSON Value nested too deeply")
        except MemoryError:
            return 429, _error_bytes(429, "Out of memory answering the request: send a smaller one")
        except Exception as error:
            log.exception("Internal error answering %s %s", method, path)
            return 500, _error_bytes(500, f"Internal error: {type(error).__name__}: {error}")

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


def _raw_response(status, message, close=True):
    data = _error_bytes(status, message)
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(data)}\r\n" + ("connection: close\r\n" if close else "") + "\r\n"
    )
    return head.encode("ascii") + data


class _ListeningSocket(socket.socket):
    """A listening socket that refuses a connection, rather than failing, when descriptors run out.

    On EMFILE/ENFILE, asyncio (3.11) logs and retries once per pending
    connection, which spins the event loop while clients wait. Here a spare
    descriptor is kept open: when `accept` fails for want of descriptors,
    the spare is freed, the waiting connection accepted and closed at once
    (the client sees it refused), and the spare taken again.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._spare = os.open(os.devnull, os.O_RDONLY)

    def accept(self):
        try:
            return super().accept()
        except OSError as error:
            if error.errno not in (errno.EMFILE, errno.ENFILE):
                raise
        log.warning("Out of file descriptors: refusing a connection")
        if self._spare is not None:
            os.close(self._spare)
            self._spare = None
        try:
            connection, _ = super().accept()
            connection.close()
        except OSError:
            pass
        finally:
            try:
                self._spare = os.open(os.devnull, os.O_RDONLY)
            except OSError:
                self._spare = None
        raise BlockingIOError(errno.EAGAIN, "connection refused for want of descriptors")

    def close(self):
        if getattr(self, "_spare", None) is not None:
            os.close(self._spare)
            self._spare = None
        super().close()


def _descriptor_headroom(max_connections):
    """`max_connections`, lowered to leave descriptors for model files when the process limit is low."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return max_connections
    return max(1, min(max_connections, soft - 32))


class _Protocol(H11Protocol):
    """uvicorn's h11 protocol plus a connection cap, a read timeout and JSON refusals."""

    def __init__(self, config, server_state, app_state, _loop=None):
        super().__init__(config, server_state, app_state, _loop)
        self.settings = config.kerasrnn_settings
        self._timer = None
        self._bytes_since_arm = 0
        self._protocol_error = None
        next_event = self.conn.next_event

        def remember_errors():
            try:
                return next_event()
            except h11.RemoteProtocolError as error:
                self._protocol_error = error
                raise

        self.conn.next_event = remember_errors

    def connection_made(self, transport):
        super().connection_made(transport)
        connection = transport.get_extra_info("socket")
        if connection is not None and connection.family in (socket.AF_INET, socket.AF_INET6):
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if len(self.connections) > self.settings["max_connections"]:
            transport.write(_raw_response(503, f"Too many connections: the server's limit is "
                                               f"{self.settings['max_connections']} (--max-connections)"))
            transport.close()
            return
        self._arm_timer()

    def connection_lost(self, exc):
        self._cancel_timer()
        super().connection_lost(exc)

    def data_received(self, data):
        self._bytes_since_arm += len(data)
        super().data_received(data)

    def handle_events(self):
        before = self.cycle
        super().handle_events()
        if self.cycle is not None and self.cycle is not before:
            self._cancel_timer()  # the headers are in; the app times the body

    def on_response_complete(self):
        self._arm_timer()
        super().on_response_complete()

    def _arm_timer(self):
        self._cancel_timer()
        self._bytes_since_arm = 0
        self._timer = self.loop.call_later(self.settings["read_timeout_s"], self._timed_out)

    def _cancel_timer(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self):
        self._timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered: its own deadline applies
        if self._bytes_since_arm:
            self.transport.write(_raw_response(
                408, f"Request headers not received within {self.settings['read_timeout_s']:g} s (--read-timeout-seconds)"
            ))
        self.transport.close()

    def send_400_response(self, msg):
        error = self._protocol_error
        status = getattr(error, "error_status_hint", 400) if error is not None else 400
        detail = str(error) if error is not None and str(error) else msg
        log.info("Refused a malformed HTTP request from %s: %s", self.client, detail)
        data = _error_bytes(status, f"Malformed HTTP request: {detail}")
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                   (b"connection", b"close")]
        try:
            self.transport.write(self.conn.send(h11.Response(status_code=status, headers=headers,
                                                             reason=_REASONS.get(status, "Error"))))
            self.transport.write(self.conn.send(h11.Data(data=data)))
            self.transport.write(self.conn.send(h11.EndOfMessage()))
        except h11.LocalProtocolError:  # h11 cannot frame an answer now: answer raw
            self.transport.write(_raw_response(status, f"Malformed HTTP request: {detail}"))
        self.transport.close()


class _Refused(Exception):
    """A request answered with `http_status` and `message` and its connection closed (408, 413)."""

    def __init__(self, http_status, message):
        super().__init__(message)
        self.http_status, self.message = http_status, message


class _App:
    """The ASGI application: read the body within the read timeout, answer in the thread pool."""

    def __init__(self, api, executor, max_body_bytes, read_timeout_s):
        self.api, self.executor = api, executor
        self.max_body_bytes, self.read_timeout_s = max_body_bytes, read_timeout_s
        self.computing = set()  # the executor's futures not done yet (the server's `busy`)
        self.grace = None  # the GraceTimer, made on the event loop
        self.stopping = False  # once the shutdown begins, every answer closes its connection

    async def _reply(self, send, status, data, close=False):
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
        if close or self.stopping:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        method = scope["method"]
        try:
            path = urllib.parse.unquote(scope["raw_path"].decode("ascii"), errors="strict")
        except UnicodeDecodeError:
            await self._reply(send, 400, _error_bytes(400, "Malformed request: the path is not valid UTF-8"))
            return
        length = next((value for name, value in scope["headers"] if name == b"content-length"), None)
        if length is not None and int(length) > self.max_body_bytes:
            # Refused before reading: h11 discards the body as it arrives
            # (the read timeout bounds how long that may take).
            await self._reply(send, 413, _error_bytes(413, (
                f"Request body of {int(length)} bytes exceeds the server's limit of {self.max_body_bytes} bytes "
                "(--max-body-bytes)")))
            return
        try:
            body = await self._read_body(receive)
            if body is None:
                return  # the client went away
            if method != "POST":
                body = b""  # a GET's body is never read as anything
            future = self.executor.submit(self.api.answer, method, path, bytes(body))
            del body
            self.computing.add(future)
            future.add_done_callback(self.computing.discard)
            try:
                # Past the deadline or the grace, the wrapper is cancelled,
                # and with it the work if it has not started.
                status, data = await first_of(asyncio.wrap_future(future), self.api.limits.deadline_s, self.grace.over)
            except asyncio.TimeoutError:
                status, data = 504, _error_bytes(504, (f"Deadline exceeded: no answer within "
                                                       f"{self.api.limits.deadline_s:g} s (--request-timeout-seconds)"))
        except (_Refused, ServingError) as refusal:  # too slow a body, too large a one, or the end of the grace
            await self._reply(send, refusal.http_status, _error_bytes(refusal.http_status, refusal.message), close=True)
            return
        await self._reply(send, status, data)

    async def _read_body(self, receive):
        """The request body, read within the read timeout; None if the client disconnects."""
        body = bytearray()
        deadline = time.monotonic() + self.read_timeout_s
        while True:
            try:
                message = await first_of(receive(), max(0.0, deadline - time.monotonic()), self.grace.over)
            except asyncio.TimeoutError:
                raise _Refused(408, (
                    f"Request body not received within {self.read_timeout_s:g} s (--read-timeout-seconds)")) from None
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:  # a chunked body
                raise _Refused(413, (
                    f"Request body exceeds the server's limit of {self.max_body_bytes} bytes (--max-body-bytes)"))
            if not message.get("more_body", False):
                return body


class _UvicornServer(uvicorn.Server):
    """uvicorn's server without its signal handlers: `GracefulShutdown` stops REST and gRPC together."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


class RestApiServer(StoppableServer):
    """TF Serving's REST API on `(host, port)`, served by uvicorn over h11.

    The socket is bound when the object is made (port 0 picks a free one,
    see `server_address`); `serve_forever` answers requests until `shutdown`.

    Args:
        address: `(host, port)`.
        manager: the `ModelManager` holding the models.
        max_body_bytes: larger request bodies get 413 without being read.
        limits: the `RequestLimits` of every predict request.
        max_connections: connections beyond this many get 503 and are closed.
        read_timeout_s: how long a request's headers, then its body, may take to arrive.
        keep_alive_s: how long an idle keep-alive connection stays open.
        workers: threads that parse, run and format requests.

    Example:

    >>> server = RestApiServer(("127.0.0.1", 0), manager)  # doctest: +SKIP
    >>> server.serve_forever()  # doctest: +SKIP
    """

    def __init__(
        self,
        address,
        manager,
        max_body_bytes=DEFAULT_MAX_BODY_BYTES,
        limits=None,
        max_connections=DEFAULT_MAX_CONNECTIONS,
        read_timeout_s=DEFAULT_READ_TIMEOUT_S,
        keep_alive_s=DEFAULT_KEEP_ALIVE_S,
        workers=DEFAULT_WORKERS,
        backlog=511,
    ):
        for name, value in (("max_body_bytes", max_body_bytes), ("max_connections", max_connections),
                            ("workers", workers)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        for name, value in (("read_timeout_s", read_timeout_s), ("keep_alive_s", keep_alive_s)):
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"`{name}` must be a positive number of seconds. Received: {name}={value!r}")
        self.manager = manager
        self.max_body_bytes = max_body_bytes
        self.api = RestApi(manager, limits)
        self.executor = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="kerasrnn-rest")
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say
        # so (with proto 0, every answer waited ~40 ms for a delayed ACK).
        self.socket = _ListeningSocket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind(address)
        except OSError as error:
            self.socket.close()
            raise cannot_listen("REST", address[0], address[1], error) from None
        self.socket.listen(backlog)
        self.socket.setblocking(False)
        self.server_address = self.socket.getsockname()
        self.app = _App(self.api, self.executor, max_body_bytes, read_timeout_s)
        config = uvicorn.Config(
            self.app,
            http=_Protocol,
            lifespan="off",
            loop="asyncio",
            interface="asgi3",
            timeout_keep_alive=keep_alive_s,
            timeout_graceful_shutdown=5,
            backlog=backlog,
            access_log=False,
            log_level="warning",
            server_header=False,
        )
        config.kerasrnn_settings = {"max_connections": _descriptor_headroom(max_connections), "read_timeout_s": float(read_timeout_s)}
        self.uvicorn = _UvicornServer(config)
        self.computing = self.app.computing
        self.stopped = threading.Event()

    def serve_forever(self):
        """Answer requests until `begin_shutdown` or `shutdown` (signals are left to `GracefulShutdown`).

        Example:

        >>> threading.Thread(target=server.serve_forever, daemon=True).start()  # doctest: +SKIP
        """
        try:
            asyncio.run(self._serve())
        finally:
            self.stopped.set()

    async def _serve(self):
        self.loop = asyncio.get_running_loop()
        self.app.grace = GraceTimer(self.loop)
        if self.pending_shutdown is not None:  # asked before the loop ran
            self._shut_down(*self.pending_shutdown)
        await self.uvicorn.serve(sockets=[self.socket])

    @property
    def in_flight(self):
        """How many requests are being read or answered now.

        Example:

        >>> server.in_flight  # doctest: +SKIP
        0
        """
        return len(self.uvicorn.server_state.tasks)

    def _shut_down(self, deadline, message):
        # uvicorn cancels what is left one second after the grace (with a
        # plain-text 500): by then every request has had its JSON answer.
        self.uvicorn.config.timeout_graceful_shutdown = max(0.0, deadline - time.monotonic()) + 1.0
        self.uvicorn.should_exit = True
        self.app.stopping = True
        self.app.grace.end_at(deadline, message)

    def shutdown(self, grace_s=5):
        """Stop `serve_forever` (from another thread): requests in flight get `grace_s` seconds, then a 503.

        Example:

        >>> server.shutdown()  # doctest: +SKIP
        """
        self.stop_within(grace_s)

    def server_close(self):
        """Close the listening socket and the worker threads.

        Example:

        >>> server.server_close()  # doctest: +SKIP
        """
        self.socket.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
