"""Graceful shutdown of `kerasrnn serve`: stop accepting, answer what is in flight within a grace, then exit.

On the first SIGTERM or SIGINT both APIs stop accepting (the listening
sockets close; gRPC sends GOAWAY) and the requests in flight keep running;
those still unanswered when the grace ends get TF Serving's UNAVAILABLE (a
JSON 503 over REST, `UNAVAILABLE` over gRPC) with a message naming
`--shutdown-grace-seconds`, and the work queued for them is cancelled. A
second signal ends the grace at once.
"""

import asyncio
import contextlib
import logging
import signal
import threading
import time

from kerasrnn.serving.errors import ServingError

log = logging.getLogger("kerasrnn.serving")

DEFAULT_SHUTDOWN_GRACE_S = 20.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def first_of(awaitable, timeout, *interruptions):
    """The result of `awaitable`, unless `timeout` seconds pass or an interruption comes first.

    Args:
        awaitable: the work waited for; cancelled when the wait ends without it.
        timeout: seconds; None waits without a limit.
        *interruptions: futures (shared, never cancelled here) whose result is
            the `ServingError` to raise when they are set first.

    Raises:
        asyncio.TimeoutError: `timeout` passed.
        ServingError: an interruption came first.

    Example:

    >>> grace_over = asyncio.get_running_loop().create_future()  # doctest: +SKIP
    >>> await first_of(receive(), 30.0, grace_over)  # doctest: +SKIP
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait([task, *interruptions], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # the caller was cancelled (the client went away)
        task.cancel()
        raise
    if task in done:
        return task.result()
    task.cancel()
    for interruption in interruptions:
        if interruption in done:
            raise interruption.result()
    raise asyncio.TimeoutError


class GraceTimer:
    """The end of the shutdown grace on one event loop: `over` is the future that interrupts the waits.

    Args:
        loop: the server's event loop (make the object on it).

    Example:

    >>> grace = GraceTimer(asyncio.get_running_loop())  # doctest: +SKIP
    >>> grace.end_at(time.monotonic() + 5, "Server shutting down")  # doctest: +SKIP
    >>> await first_of(work, 30.0, grace.over)  # doctest: +SKIP
    """

    def __init__(self, loop):
        self.loop = loop
        self.over = loop.create_future()
        self._timer = None

    def end_at(self, deadline, message):
        """(On the loop.) At `deadline`, set `over` to an UNAVAILABLE `message`; a later call may bring it closer.

        Args:
            deadline: in `time.monotonic()` seconds.
            message: what the requests still unanswered then are told.
        """
        if self._timer is not None:
            self._timer.cancel()
        # loop.time() is time.monotonic(): the deadline needs no conversion.
        self._timer = self.loop.call_at(deadline, self._end, message)

    def _end(self, message):
        if not self.over.done():
            self.over.set_result(ServingError("UNAVAILABLE", message))


class StoppableServer:
    """What `GracefulShutdown` drives in a server: `begin_shutdown`, `wait_stopped`, `busy`, `stop_within`.

    A subclass sets `loop` (its event loop, once it runs), `computing` (the
    futures of its thread pool not done yet) and `stopped` (an event set
    once it has stopped), and defines `in_flight` and `_shut_down(deadline,
    message)`, which runs on the loop: stop accepting, and answer what is
    still in flight at `deadline` with UNAVAILABLE `message`.
    """

    loop = None
    pending_shutdown = None  # (deadline, message), for a loop not running yet

    @property
    def busy(self):
        """How many answers are being computed in threads now.

        Example:

        >>> server.busy  # doctest: +SKIP
        0
        """
        return sum(not future.done() for future in list(self.computing))

    def begin_shutdown(self, deadline, message):
        """Stop accepting now; what is in flight at `deadline` gets UNAVAILABLE `message`.

        Returns at once (safe in a signal handler); a later call may bring
        the deadline closer.

        Args:
            deadline: when the grace ends, in `time.monotonic()` seconds.
            message: what the requests still unanswered then are told.

        Example:

        >>> server.begin_shutdown(time.monotonic() + 5, "Server shutting down")  # doctest: +SKIP
        """
        self.pending_shutdown = (deadline, message)
        if self.loop is not None and not self.stopped.is_set():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nothing left to stop
                self.loop.call_soon_threadsafe(self._shut_down, deadline, message)

    def wait_stopped(self, timeout=None):
        """Wait up to `timeout` seconds for the server to stop; True once it has.

        Example:

        >>> server.wait_stopped(10)  # doctest: +SKIP
        True
        """
        return self.stopped.wait(timeout)

    def stop_within(self, grace_s):
        """Stop accepting; the requests in flight get `grace_s` seconds, then UNAVAILABLE. Waits for the stop.

        Example:

        >>> server.stop_within(5)  # doctest: +SKIP
        True
        """
        self.begin_shutdown(time.monotonic() + grace_s,
                            f"Server shutting down: the request was not answered within the {grace_s:g} s grace")
        return self.wait_stopped(grace_s + 5)


class GracefulShutdown:
    """Stops servers together: they stop accepting at once, and answer what is in flight within `grace_s`.

    Each server is a `StoppableServer`.

    Args:
        servers: the servers to stop.
        grace_s: seconds the requests in flight get after the first signal.

    Example:

    >>> shutdown = GracefulShutdown([rest_server, grpc_server], grace_s=20)  # doctest: +SKIP
    >>> with shutdown.on_signals():  # doctest: +SKIP
    ...     rest_server.serve_forever()
    >>> shutdown.wait_stopped()  # doctest: +SKIP
    0
    """

    def __init__(self, servers, grace_s=DEFAULT_SHUTDOWN_GRACE_S):
        if not (isinstance(grace_s, (int, float)) and not isinstance(grace_s, bool) and grace_s >= 0):
            raise ValueError(
                f"--shutdown-grace-seconds must be a non-negative number of seconds. Received: {grace_s!r}")
        self.servers, self.grace_s = list(servers), float(grace_s)
        self.requested = threading.Event()
        self.signalled = False
        self.deadline = None
        self._lock = threading.Lock()

    def request(self, reason="a request to stop"):
        """Begin the shutdown (or, once begun, end the grace now).

        Args:
            reason: what asked, for the log (e.g. "SIGTERM").

        Example:

        >>> shutdown.request("SIGTERM")  # doctest: +SKIP
        """
        now = time.monotonic()
        # A signal handler runs in the main thread between bytecodes: a
        # non-blocking lock keeps it from waiting on the thread it interrupted.
        if not self._lock.acquire(blocking=False):
            return
        try:
            if self.deadline is None:
                self.deadline = now + self.grace_s
                message = (f"Server shutting down: the request was not answered within the {self.grace_s:g} s "
                           "grace (--shutdown-grace-seconds)")
                log.info("%s: no new requests; the %d in flight get up to %g s (--shutdown-grace-seconds)%s", reason,
                         sum(server.in_flight for server in self.servers), self.grace_s,
                         "; stop again to end the grace now" if self.signalled else "")
            else:
                self.deadline = min(self.deadline, now)
                message = f"Server shutting down: stopped again ({reason}) before the request was answered"
                log.info("%s again: answering the requests in flight now", reason)
            deadline = self.deadline
        finally:
            self._lock.release()
        for server in self.servers:
            server.begin_shutdown(deadline, message)
        self.requested.set()

    @contextlib.contextmanager
    def on_signals(self):
        """Within the block, SIGTERM and SIGINT begin the shutdown instead of ending the process.

        Signal handlers belong to the main thread; elsewhere this does nothing.

        Example:

        >>> with shutdown.on_signals():  # doctest: +SKIP
        ...     shutdown.requested.wait()
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handle(number, frame):
            self.signalled = True
            self.request(signal.Signals(number).name)

        previous = {number: signal.signal(number, handle) for number in STOP_SIGNALS}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def wait_requested(self):
        """Block until a shutdown is requested (signals still run: the wait wakes up regularly).

        Example:

        >>> shutdown.wait_requested()  # doctest: +SKIP
        """
        while not self.requested.wait(0.5):
            pass

    def wait_stopped(self):
        """Wait until every server has stopped (at most the grace and a second); returns the abandoned computations.

        An abandoned computation is a model call still running in a thread
        after its request was answered UNAVAILABLE: Python cannot stop it.

        Example:

        >>> shutdown.wait_stopped()  # doctest: +SKIP
        0
        """
        if self.deadline is None:
            self.request("the server stopping")
        for server in self.servers:
            server.wait_stopped(max(0.0, self.deadline - time.monotonic()) + 2.0)
        return sum(server.busy for server in self.servers)
