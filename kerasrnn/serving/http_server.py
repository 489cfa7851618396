"""The REST API's transport: TF Serving's REST API (`rest_api`) served by uvicorn over h11.

uvicorn runs the ASGI app below on the h11 protocol of `http_connections`
(strict HTTP/1.1 parsing, a connection cap, header read timeouts, JSON
refusals). The app reads each body within the read timeout and under
`max_body_bytes`, then parses, runs and formats the request in a thread
pool, so the event loop keeps accepting and answering other clients; each
request has a deadline (`RequestLimits.deadline_s`): past it the client
gets 504 DEADLINE_EXCEEDED.

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
import socket
import threading
import time
import urllib.parse

import uvicorn

from kerasrnn.serving.errors import ServingError, cannot_listen
from kerasrnn.serving.http_connections import LimitedH11Protocol, ListeningSocket, descriptor_headroom
from kerasrnn.serving.rest_api import RestApi, error_reply
from kerasrnn.serving.shutdown import GraceTimer, StoppableServer, first_of

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_CONNECTIONS = 1024
DEFAULT_READ_TIMEOUT_S = 30.0
DEFAULT_KEEP_ALIVE_S = 30.0
DEFAULT_WORKERS = 64


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
            await self._reply(send, 400, error_reply("Malformed request: the path is not valid UTF-8"))
            return
        length = next((value for name, value in scope["headers"] if name == b"content-length"), None)
        if length is not None and int(length) > self.max_body_bytes:
            # Refused before reading: h11 discards the body as it arrives
            # (the read timeout bounds how long that may take).
            await self._reply(send, 413, error_reply((
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
                status, data = 504, error_reply((f"Deadline exceeded: no answer within "
                                                       f"{self.api.limits.deadline_s:g} s (--request-timeout-seconds)"))
        except (_Refused, ServingError) as refusal:  # too slow a body, too large a one, or the end of the grace
            await self._reply(send, refusal.http_status, error_reply(refusal.message), close=True)
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
        self.socket = ListeningSocket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
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
            http=LimitedH11Protocol,
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
        config.kerasrnn_settings = {"max_connections": descriptor_headroom(max_connections), "read_timeout_s": float(read_timeout_s)}
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
