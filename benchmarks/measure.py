"""How every figure is measured: interleaved repetitions, medians, peak RSS, the machine."""

import datetime
import os
import platform
import statistics
import threading
import time

import keras
import psutil


def interleaved(variants, repetitions, run_once):
    """Time every variant `repetitions` times, in the order A B C A B C ...

    Interleaving spreads slow drifts (thermal, other processes) over all
    variants instead of biasing the one measured last.

    Args:
        variants: names of the things to measure.
        repetitions: how many times each is measured (≥ 3 for a median).
        run_once: `run_once(name)` measures one repetition and returns a number.

    Returns:
        `{name: [value per repetition]}`.

    Example:

    >>> interleaved(["a", "b"], 3, lambda name: len(name))
    {'a': [1, 1, 1], 'b': [1, 1, 1]}
    """
    values = {name: [] for name in variants}
    for _ in range(repetitions):
        for name in variants:
            values[name].append(run_once(name))
    return values


def median(values):
    """The median of a list of numbers.

    Example:

    >>> median([3.0, 1.0, 2.0])
    2.0
    """
    return float(statistics.median(values))


def paired_ratio(numerators, denominators):
    """Median of per-repetition ratios: each pair was measured back to back.

    Example:

    >>> paired_ratio([4.0, 6.0, 5.0], [2.0, 2.0, 2.0])
    2.5
    """
    return median([a / b for a, b in zip(numerators, denominators)])


class PeakRss:
    """Sample a process' resident set size every 50 ms; `.peak` is the largest seen (bytes).

    Args:
        pid: the process to watch (default: this one).

    Example:

    >>> with PeakRss() as rss:
    ...     _ = bytearray(10_000_000)
    >>> rss.peak > 10_000_000
    True
    """

    def __init__(self, pid=None):
        self.process = psutil.Process(pid or os.getpid())
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _sample(self):
        try:
            self.peak = max(self.peak, self.process.memory_info().rss)
        except psutil.Error:
            pass

    def _watch(self):
        while not self._stop.wait(0.05):
            self._sample()

    def __enter__(self):
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()


def cpu_model():
    """The CPU model name from /proc/cpuinfo (or `platform.processor()`).

    Example:

    >>> isinstance(cpu_model(), str)
    True
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_description():
    """CPU, cores, memory, library versions, date and load: the header of RESULTS.md.

    Example:

    >>> sorted(machine_description())[:3]
    ['cores', 'cpu', 'date']
    """
    import keras
    import numpy
    import tensorflow as tf

    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "torch": torch_version,
        "numpy": numpy.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def seconds(function):
    """Wall-clock seconds one call of `function()` takes.

    Example:

    >>> seconds(lambda: None) < 1
    True
    """
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


class EpochTimer(keras.callbacks.Callback):
    """A Keras callback keeping the wall-clock seconds of every training epoch (validation excluded).

    Example:

    >>> timer = EpochTimer()
    >>> timer.on_epoch_begin(0); timer.on_epoch_end(0)
    >>> len(timer.seconds)
    1
    """

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)
