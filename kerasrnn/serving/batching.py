"""Server-side batching: concurrent predict calls to one signature run as one batch."""

import logging
import os
import queue
import re
import threading
import time

import numpy as np

log = logging.getLogger("kerasrnn.serving")
_WRAPPED_FIELD = re.compile(r"(\w+)\s*:?\s*\{\s*value\s*:\s*([^\s}]+)\s*\}")


def read_batching_parameters(path):
    """`{"max_batch_size": N, "batch_timeout_s": T}` from TF Serving's `--batching_parameters_file`.

    The file is a `BatchingParameters` text proto, e.g.
    `max_batch_size { value: 32 } batch_timeout_micros { value: 2000 }`;
    the fields this server has no use for (`num_batch_threads`, ...) are
    accepted and ignored.

    Example:

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "batching.config")
    >>> _ = open(path, "w").write("max_batch_size { value: 16 }\\nbatch_timeout_micros { value: 500 }\\n")
    >>> read_batching_parameters(path)
    {'max_batch_size': 16, 'batch_timeout_s': 0.0005}
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--batching_parameters_file: {path!r} does not exist.")
    with open(path, encoding="utf-8") as file:
        text = re.sub(r"#.*", "", file.read())
    found = {}
    for name, value in _WRAPPED_FIELD.findall(text):
        found[name] = value
    leftover = _WRAPPED_FIELD.sub("", text)
    leftover = re.sub(r"\ballowed_batch_sizes\s*:\s*\d+|\bpad_variable_length_inputs\s*:\s*\w+", "", leftover)
    if leftover.strip():
        raise ValueError(f"--batching_parameters_file: {path!r} is not a BatchingParameters text proto "
                         f"(could not read {leftover.strip()[:80]!r})")
    parameters = {}
    try:
        if "max_batch_size" in found:
            parameters["max_batch_size"] = int(found["max_batch_size"])
        if "batch_timeout_micros" in found:
            parameters["batch_timeout_s"] = int(found["batch_timeout_micros"]) / 1e6
    except ValueError:
        raise ValueError(f"--batching_parameters_file: {path!r}: max_batch_size and batch_timeout_micros must be "
                         f"integers; got {found}") from None
    ignored = sorted(set(found) - {"max_batch_size", "batch_timeout_micros"})
    if ignored:
        log.info("Batching parameters not used by this server: %s", ", ".join(ignored))
    return parameters


class _Pending:
    def __init__(self, arrays):
        self.arrays = arrays
        self.rows = len(next(iter(arrays.values())))
        # Requests can only be merged when every input agrees beyond the batch dimension.
        self.key = tuple((name, array.dtype.str, array.shape[1:]) for name, array in sorted(arrays.items()))
        self.done = threading.Event()
        self.result = None
        self.error = None


class SignatureBatcher:
    """Merge concurrent calls of one signature into batches of up to `max_batch_size` rows.

    The first waiting request opens a batch; requests arriving within
    `batch_timeout_s` join it (if their inputs have the same shape beyond
    the batch dimension) until it holds `max_batch_size` rows. The batch runs
    once and each caller gets its own rows back. If a merged batch fails,
    its requests are rerun one by one, so one bad request fails alone.

    Args:
        run: a function `{input: array} → {output: array}`, batch-first.
        max_batch_size: the most rows one run gets.
        batch_timeout_s: how long the first request of a batch waits for company.

    Example:

    >>> batcher = SignatureBatcher(lambda a: {"twice": a["x"] * 2}, max_batch_size=8, batch_timeout_s=0.001)
    >>> batcher({"x": np.array([1, 2])})["twice"].tolist()
    [2, 4]
    >>> batcher.close()
    """

    def __init__(self, run, max_batch_size=32, batch_timeout_s=0.002):
        if not isinstance(max_batch_size, int) or max_batch_size < 1:
            raise ValueError(f"`max_batch_size` must be a positive integer. Received: {max_batch_size!r}")
        if not batch_timeout_s >= 0:
            raise ValueError(f"`batch_timeout_s` must be >= 0. Received: {batch_timeout_s!r}")
        self.run, self.max_batch_size, self.batch_timeout_s = run, max_batch_size, batch_timeout_s
        self.queue = queue.Queue()
        self.closed = False
        self._lock = threading.Lock()
        self.batch_sizes = []  # rows per run, for tests and benchmarks
        self.thread = threading.Thread(target=self._loop, name="kerasrnn-batcher", daemon=True)
        self.thread.start()

    def __call__(self, arrays):
        pending = _Pending(arrays)
        if pending.rows >= self.max_batch_size:
            return self.run(arrays)
        with self._lock:
            closed = self.closed
            if not closed:
                self.queue.put(pending)
        if closed:  # the version is being unloaded: answer alone rather than wait on a stopped thread
            return self.run(arrays)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.result

    def close(self):
        """Stop the batching thread (requests already queued are answered first; later ones run alone)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self.queue.put(None)
        self.thread.join(timeout=5)

    def _loop(self):
        carry = None
        while True:
            first = carry if carry is not None else self.queue.get()
            carry = None
            if first is None:
                return
            batch, rows = [first], first.rows
            deadline = time.monotonic() + self.batch_timeout_s
            while rows < self.max_batch_size:
                try:
                    item = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None or rows + item.rows > self.max_batch_size:
                    carry = item
                    if item is None:
                        self.queue.put(None)
                        carry = None
                    break
                batch.append(item)
                rows += item.rows
            groups = {}
            for item in batch:
                groups.setdefault(item.key, []).append(item)
            for group in groups.values():
                self._run_group(group)

    def _run_group(self, group):
        try:
            if len(group) == 1:
                group[0].result = self.run(group[0].arrays)
            else:
                merged = {name: np.concatenate([item.arrays[name] for item in group]) for name in group[0].arrays}
                self.batch_sizes.append(sum(item.rows for item in group))
                outputs = self.run(merged)
                start = 0
                for item in group:
                    item.result = {name: value[start : start + item.rows] for name, value in outputs.items()}
                    start += item.rows
        except Exception as error:
            if len(group) == 1:
                group[0].error = error
            else:
                for item in group:
                    self._run_group([item])
                return
        for item in group:
            item.done.set()
