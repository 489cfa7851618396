"""HTTP/1.1 connections as a server facing the internet needs them: a cap, read timeouts, JSON refusals.

uvicorn's h11 protocol parses HTTP strictly (a bad `Content-Length`, a
duplicated one with two values, an unsupported `Transfer-Encoding`: refused,
the connection closed); `LimitedH11Protocol` adds what uvicorn leaves to a
proxy:

* a connection cap: connections beyond `max_connections` get a 503 and are
  closed at once (and `ListeningSocket` refuses a connection rather than
  spinning the event loop when file descriptors run out);
* a read timeout: a request's headers must arrive within `read_timeout_s`
  of the connection opening (or of the previous answer), otherwise 408 and
  the connection closes (the body's own timeout is `http_server`'s);
* every refusal in TF Serving's error shape, `{"error": "..."}` as JSON.
"""

import errno
import logging
import os
import resource
import socket

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from kerasrnn.serving.rest_api import error_reply

log = logging.getLogger("kerasrnn.serving")

REASONS = {400: "Bad Request", 408: "Request Timeout", 413: "Payload Too Large", 431: "Request Header Fields Too Large",
           501: "Not Implemented", 503: "Service Unavailable", 504: "Gateway Timeout"}


def raw_error_response(status, message, close=True):
    """A whole HTTP/1.1 error response as bytes, for a connection h11 cannot (or need not) frame an answer on.

    Args:
        status: the HTTP status.
        message: the error the client sees, sent as `{"error": message}`.
        close: say `connection: close` (the connection is closed after it).

    Example:

    >>> raw_error_response(503, "Too many connections").split(b"\\r\\n")[0]
    b'HTTP/1.1 503 Service Unavailable'
    """
    data = error_reply(message)
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(data)}\r\n" + ("connection: close\r\n" if close else "") + "\r\n"
    )
    return head.encode("ascii") + data


class ListeningSocket(socket.socket):
    """A listening socket that refuses a connection, rather than failing, when descriptors run out.

    On EMFILE/ENFILE, asyncio (3.11) logs and retries once per pending
    connection, which spins the event loop while clients wait. Here a spare
    descriptor is kept open: when `accept` fails for want of descriptors,
    the spare is freed, the waiting connection accepted and closed at once
    (the client sees it refused), and the spare taken again.

    Args:
        *args: `socket.socket`'s (family, type, proto).
        **kwargs: `socket.socket`'s.

    Example:

    >>> listening = ListeningSocket(socket.AF_INET, socket.SOCK_STREAM)
    >>> listening.close()
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


def descriptor_headroom(max_connections):
    """`max_connections`, lowered to leave descriptors for model files when the process limit is low.

    Args:
        max_connections: the connection cap asked for (`--max-connections`).

    Example:

    >>> 1 <= descriptor_headroom(1024) <= 1024
    True
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return max_connections
    return max(1, min(max_connections, soft - 32))


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol plus a connection cap, a read timeout and JSON refusals.

    uvicorn makes one per connection (`uvicorn.Config(http=LimitedH11Protocol)`);
    the limits come from `config.kerasrnn_settings`, a dict with
    `max_connections` and `read_timeout_s`.

    Args:
        config: the `uvicorn.Config`, carrying `kerasrnn_settings`.
        server_state: uvicorn's shared server state.
        app_state: uvicorn's application state.
        _loop: the event loop (uvicorn's argument).

    Example:

    >>> import uvicorn
    >>> config = uvicorn.Config(None, http=LimitedH11Protocol)
    >>> config.kerasrnn_settings = {"max_connections": 1024, "read_timeout_s": 30.0}
    """

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
            transport.write(raw_error_response(503, f"Too many connections: the server's limit is "
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
            self.transport.write(raw_error_response(
                408, f"Request headers not received within {self.settings['read_timeout_s']:g} s (--read-timeout-seconds)"
            ))
        self.transport.close()

    def send_400_response(self, msg):
        error = self._protocol_error
        status = getattr(error, "error_status_hint", 400) if error is not None else 400
        detail = str(error) if error is not None and str(error) else msg
        log.info("Refused a malformed HTTP request from %s: %s", self.client, detail)
        data = error_reply(f"Malformed HTTP request: {detail}")
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                   (b"connection", b"close")]
        try:
            self.transport.write(self.conn.send(h11.Response(status_code=status, headers=headers,
                                                             reason=REASONS.get(status, "Error"))))
            self.transport.write(self.conn.send(h11.Data(data=data)))
            self.transport.write(self.conn.send(h11.EndOfMessage()))
        except h11.LocalProtocolError:  # h11 cannot frame an answer now: answer raw
            self.transport.write(raw_error_response(status, f"Malformed HTTP request: {detail}"))
        self.transport.close()
