"""Build, load and differentiate kerasrnn's fused LSTM TensorFlow op (CPU, float32).

`lstm_ops.cc` (beside this file) defines four ops: `KerasrnnLstmForward`,
the whole recurrence over pre-projected inputs in one op, and
`KerasrnnLstmBackward`, its gradient; and their masked twins
`KerasrnnLstmMaskedForward` / `KerasrnnLstmMaskedBackward`, which take a
`(batch, time)` mask and carry the state over the masked steps, as Keras'
masked loop does (`fused_lstm(..., mask=...)`). They are compiled on first use with the
system C++ compiler against the installed TensorFlow's headers, into a
per-user cache folder keyed by the TensorFlow version, the source's sha256,
the compiler flags and the CPU (the build uses `-march=native`):
`~/.cache/kerasrnn/kernels/` unless `KERASRNN_KERNEL_CACHE` names another.
Where the native build fails, the next of `TARGET_FLAGS` is tried. A build
says so on stderr before it starts (what, about how long, where it is
cached) and again when it ends, with the time it took: the first LSTM call
on a fresh machine otherwise looks like a hang. stdout stays clean for the
command line's JSON.

When the op cannot be had (no compiler, the build or the load failed, or
`KERASRNN_FUSED_KERNELS=0`), `load_lstm_ops()` returns None and
`unavailable_reason()` says why; `FastLSTM` then runs its pure-Keras loop.

Example:

>>> import numpy as np
>>> ops = load_lstm_ops()  # None, with unavailable_reason() saying why, where it cannot be built
>>> ops is not None or unavailable_reason() is not None
True
"""

import hashlib
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import tensorflow as tf

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lstm_ops.cc")
ENABLE_ENV = "KERASRNN_FUSED_KERNELS"
CACHE_ENV = "KERASRNN_KERNEL_CACHE"
COMPILER_ENV = "CXX"
OPTIMIZATION_FLAGS = ["-O3", "-fPIC", "-shared", "-Wno-deprecated-declarations"]
# Tried in order until one builds. TensorFlow's bundled Eigen does not compile
# its AVX512-FP16 packet math with GCC 12 ("PacketMathFP16.h: expected
# initializer before '<'"), which `-march=native` turns on for CPUs that have
# AVX512-FP16 (Sapphire Rapids): those build natively without it. The empty
# set is the portable last resort.
TARGET_FLAGS = (("-march=native",), ("-march=native", "-mno-avx512fp16"), ())
BUILD_TIMEOUT_S = 600
# What a build of `lstm_ops.cc` took, measured into an empty cache on the
# 2-core x86-64 development machine (g++ 12, -O3 -march=native): 59 s at load
# average 0.7-1.7 (the other core mostly idle), 159 s at load average 4-5
# (two other users' test runs). Shown before a build as what to expect.
BUILD_SECONDS = 60
# How much longer a build took on the busy machine than on the idle one (159 s / 59 s).
BUSY_FACTOR = 3

_log = logging.getLogger(__name__)


def _cpu_tag():
    # `-march=native` code may not run on another CPU sharing this home folder.
    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith(("flags", "model name")):
                    flags += line
    except OSError:
        pass
    return f"{platform.machine()}-{hashlib.sha256(flags.encode()).hexdigest()[:8]}"


def _compile_command(source, output, extra_flags=(), target_flags=TARGET_FLAGS[0]):
    compiler = os.environ.get(COMPILER_ENV) or "g++"
    return [compiler, "-std=c++17", source, "-o", output, *OPTIMIZATION_FLAGS, *target_flags,
            *tf.sysconfig.get_compile_flags(), *tf.sysconfig.get_link_flags(), *extra_flags]


def local_headers(source):
    """The headers beside `source` that it includes with `#include "NAME"`, in the order it names them.

    They are part of a library's cache key: an edit to a shared header must
    rebuild every library that includes it.

    Args:
        source: path of a C++ source.

    Returns:
        A list of header paths.

    Example:

    >>> import os
    >>> [os.path.basename(path) for path in local_headers(SOURCE.replace("lstm_ops", "lstm_onednn_ops"))]
    ['onednn_common.h']
    """
    folder = os.path.dirname(os.path.abspath(source))
    with open(source, encoding="utf-8") as file:
        names = re.findall(r'^\s*#\s*include\s+"([^"]+)"', file.read(), flags=re.MULTILINE)
    return [os.path.join(folder, name) for name in names if os.path.isfile(os.path.join(folder, name))]


def library_path(source=SOURCE, extra_flags=(), target_flags=TARGET_FLAGS[0]):
    """Where the compiled library for `source` is (or will be) cached.

    Args:
        source: path of the C++ source.
        extra_flags: more compiler flags (include and library folders); part of the cache key.
        target_flags: the instruction-set flags, one of `TARGET_FLAGS`; part of the cache key.

    Returns:
        The `.so` path: cache folder / `tf-VERSION-CPU` / `lstm_ops-SHA.so`, where
        the hash covers the source, the headers of its folder it includes
        (`local_headers`) and the compile command.

    Example:

    >>> library_path().endswith(".so")
    True
    """
    digest = hashlib.sha256()
    for path in [source, *local_headers(source)]:
        with open(path, "rb") as file:
            digest.update(file.read())
    digest.update(" ".join(_compile_command("SRC", "OUT", extra_flags, target_flags)).encode())
    cache = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "kerasrnn", "kernels")
    folder = os.path.join(cache, f"tf-{tf.__version__}-{_cpu_tag()}")
    return os.path.join(folder, f"{os.path.splitext(os.path.basename(source))[0]}-{digest.hexdigest()[:16]}.so")


def _error_lines(output, limit=15):
    # The compiler's "error:" lines say what failed; its last lines are often
    # only the notes that follow them.
    lines = output.strip().splitlines()
    errors = [line for line in lines if "error" in line.lower()]
    return "\n".join((errors or lines[-limit:])[:limit])


def _compile(source, path, extra_flags, target_flags):
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=".so.tmp", dir=folder)
    os.close(handle)
    try:
        result = subprocess.run(_compile_command(source, temporary, extra_flags, target_flags), capture_output=True,
                                text=True, timeout=BUILD_TIMEOUT_S, check=False)
        if result.returncode != 0:
            flags = " ".join(target_flags) or "no target flags"
            raise RuntimeError(f"building {source} with {flags} failed (exit {result.returncode}):\n"
                               f"{_error_lines(result.stderr or result.stdout)}")
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def _tell(message):
    # stderr, not logging: nothing configures logging in `kerasrnn` or in a
    # user's script, and a silent minute-long wait reads as a hang.
    print(message, file=sys.stderr, flush=True)


def build(source=SOURCE, extra_flags=(), description=None, expected_seconds=BUILD_SECONDS):
    """Compile `source` into the cache unless it is there already; return the `.so` path.

    The targets of `TARGET_FLAGS` are tried in order (native first); a library
    built for any of them in an earlier process is used as it is. The library
    is written to a temporary file in the cache folder and then renamed into
    place, so a process loading it never sees a half-written one.

    A build (not a cache hit) prints one line on stderr before it starts,
    naming what is built, about how long it takes and the cache folder,
    and one when it ends with the time it took (or that it failed).

    Args:
        source: path of the C++ source.
        extra_flags: more compiler flags (include and library folders).
        description: what the library is, for the stderr lines (default: the source's file name).
        expected_seconds: about how long a build takes, for the line before it.

    Returns:
        The path of the compiled library.

    Raises:
        RuntimeError: no compiler, or every target failed (the compiler's error lines are in the message).

    Example:

    >>> build().endswith(".so")  # doctest: +SKIP
    True
    """
    paths = [library_path(source, extra_flags, target_flags) for target_flags in TARGET_FLAGS]
    for path in paths:
        if os.path.exists(path):
            return path
    compiler = _compile_command(source, paths[0], extra_flags)[0]
    if shutil.which(compiler) is None:
        raise RuntimeError(f"no C++ compiler: {compiler!r} is not on PATH (set {COMPILER_ENV} to choose one)")
    what = f"{description} ({os.path.basename(source)})" if description else os.path.basename(source)
    _tell(f"kerasrnn: compiling {what} with {compiler}, once per machine and TensorFlow version: "
          f"about {expected_seconds:.0f} s on 2 idle CPU cores, {BUSY_FACTOR}x that on busy ones; "
          f"cached in {os.path.dirname(paths[0])}")
    started = time.perf_counter()
    failures = []
    for target_flags, path in zip(TARGET_FLAGS, paths):
        try:
            built = _compile(source, path, extra_flags, target_flags)
        except RuntimeError as error:  # a timeout is not retried: the next target would take as long
            failures.append(str(error))
            continue
        _tell(f"kerasrnn: built {what} in {time.perf_counter() - started:.0f} s")
        return built
    _tell(f"kerasrnn: building {what} failed after {time.perf_counter() - started:.0f} s; "
          "the pure-Keras fallback runs instead (same outputs, slower)")
    raise RuntimeError("\n".join(failures))


def _register_gradient(module):
    def backward(op, dh, dc, run_backward, extra_inputs):
        # `gates` is an internal output for the backward op: its gradient is
        # ignored (fused_lstm never hands it out).
        h, c, gates = op.outputs
        dh = tf.zeros_like(h) if dh is None else dh
        dc = tf.zeros_like(c) if dc is None else dc
        h0, c0, kernel = op.inputs[1], op.inputs[2], op.inputs[3]
        d_projected, dh0, dc0 = run_backward(
            h0, c0, kernel, h, c, gates, dh, dc, *extra_inputs, parallel=op.get_attr("parallel"))
        # dU = sum over steps of h_{t-1}^T dGates_t, as ONE matmul over all
        # batch * time rows; TensorFlow's MatMul (oneDNN) was faster for it
        # than the Eigen contraction inside the op. Masked steps have zero
        # dGates, so they add nothing.
        h_prev = tf.concat([h0[:, None, :], h[:, :-1, :]], axis=1)[:, : tf.shape(h)[1]]
        units = tf.shape(kernel)[0]
        d_kernel = tf.matmul(tf.reshape(h_prev, [-1, units]), tf.reshape(d_projected, [-1, 4 * units]),
                             transpose_a=True)
        return [d_projected, dh0, dc0, d_kernel]

    @tf.RegisterGradient("KerasrnnLstmForward")
    def _lstm_forward_gradient(op, dh, dc, _dgates):
        return backward(op, dh, dc, module.kerasrnn_lstm_backward, [])

    @tf.RegisterGradient("KerasrnnLstmMaskedForward")
    def _lstm_masked_forward_gradient(op, dh, dc, _dgates):
        mask = op.inputs[4]
        return backward(op, dh, dc, module.kerasrnn_lstm_masked_backward, [mask]) + [None]


def switched_off(names=(ENABLE_ENV,)):
    """The first of the environment variables `names` set to 0/false/no/off, as `NAME=VALUE`, else None.

    Args:
        names: environment variable names, each of which switches ops off.

    Returns:
        `"NAME=VALUE"` for the first one that switches off, or None.

    Example:

    >>> switched_off(["KERASRNN_EXAMPLE_UNSET_VARIABLE"]) is None
    True
    """
    for name in names:
        if os.environ.get(name, "1").strip().lower() in ("0", "false", "no", "off"):
            return f"{name}={os.environ[name]}"
    return None


class OpLibrary:
    """A C++ op library built (see `build`) and loaded once per process, or the reason it cannot be.

    Args:
        source: path of the C++ source.
        register_gradients: called with the loaded module once, to register its gradients.
        description: what the library is, for the build's stderr lines and
            the log line when it is unavailable.
        extra_flags: a callable returning more compiler flags; it may raise
            (e.g. a library is not installed), which makes the ops unavailable.
        switches: environment variables that switch the library off (`NAME=0`).
        build_seconds: about how long a build takes, for the line before it.

    Example:

    >>> library = OpLibrary(SOURCE, lambda module: None, "the fused LSTM kernel")
    >>> library.load() is None or hasattr(library.load(), "kerasrnn_lstm_forward")
    True
    """

    def __init__(self, source, register_gradients, description, extra_flags=tuple, switches=(ENABLE_ENV,),
                 build_seconds=BUILD_SECONDS):
        self.source, self.description, self.switches = source, description, tuple(switches)
        self.build_seconds = build_seconds
        self._register_gradients, self._extra_flags = register_gradients, extra_flags
        self._lock = threading.Lock()
        self._loaded, self._module, self._reason, self._last_logged = False, None, None, None

    def load(self):
        """The loaded op module, or None (then `unavailable_reason()` says why)."""
        switch = switched_off(self.switches)
        if switch:
            self._report(f"switched off by {switch}")
            return None
        with self._lock:
            if not self._loaded:
                self._loaded = True
                try:
                    path = build(self.source, tuple(self._extra_flags()), self.description, self.build_seconds)
                    module = tf.load_op_library(path)
                    self._register_gradients(module)
                    self._module, self._reason = module, None
                except Exception as error:  # any failure means: use the fallback
                    self._module, self._reason = None, f"{type(error).__name__}: {error}"
            if self._module is None:
                self._report(self._reason)
            return self._module

    def unavailable_reason(self):
        """Why `load()` returned None the last time it was asked (or would now), else None."""
        switch = switched_off(self.switches)
        if switch:
            return f"switched off by {switch}"
        return self._reason

    def _report(self, reason):
        if self._last_logged != reason:
            _log.info("kerasrnn: %s unavailable, using the fallback: %s", self.description, reason)
            self._last_logged = reason


_LIBRARY = OpLibrary(SOURCE, _register_gradient, "the fused LSTM kernel")


def load_lstm_ops():
    """The loaded op module, or None when the fused kernel is unavailable or switched off.

    Builds the library on first use (see `build`). Set `KERASRNN_FUSED_KERNELS=0`
    to switch the op off; `unavailable_reason()` then says so.

    Returns:
        The module from `tf.load_op_library` (with `kerasrnn_lstm_forward`,
        `kerasrnn_lstm_backward` and their `kerasrnn_lstm_masked_*` twins), or None.

    Example:

    >>> import os
    >>> os.environ["KERASRNN_FUSED_KERNELS"] = "0"
    >>> load_lstm_ops() is None, unavailable_reason()
    (True, 'switched off by KERASRNN_FUSED_KERNELS=0')
    >>> del os.environ["KERASRNN_FUSED_KERNELS"]
    """
    return _LIBRARY.load()


def unavailable_reason():
    """Why `load_lstm_ops()` returned None the last time it was asked, else None.

    Returns:
        A one-line reason (or the compiler's error output), or None if the op is loaded.

    Example:

    >>> _ = load_lstm_ops()
    >>> unavailable_reason() is None or isinstance(unavailable_reason(), str)
    True
    """
    return _LIBRARY.unavailable_reason()


def fused_lstm(projected, h0, c0, recurrent_kernel, parallel=True, mask=None):
    """Run an LSTM over a whole sequence with the fused op; differentiable.

    Gate order and activations are Keras' (i, f, c, o; sigmoid, tanh), so
    with `projected = x @ cell.kernel + cell.bias` the outputs equal
    `keras.layers.LSTM`'s.

    With a `mask`, a masked step leaves the states as they were (Keras'
    loop does the same): its `h` and `c` are the previous step's (`h0`,
    `c0` before the first step), and no gradient reaches its gates. The
    outputs Keras gives masked steps (zeros, or the last unmasked output)
    are not formed here: `FastLSTM` derives them from `h` and the mask.

    Args:
        projected: float32 `(batch, time, 4 * units)`, the projected inputs of every step.
        h0: float32 `(batch, units)` initial hidden state.
        c0: float32 `(batch, units)` initial cell state.
        recurrent_kernel: float32 `(units, 4 * units)`.
        parallel: run the op's matmuls and gate loops on TensorFlow's
            intra-op thread pool (True) or on the calling thread.
        mask: None, or `(batch, time)` (bool, or numbers cast to bool):
            True for the steps that run, in the order they run.

    Returns:
        `(h, c)`: the hidden and cell states after every step, each `(batch, time, units)`.

    Raises:
        RuntimeError: the op is unavailable (the reason is in the message).

    Example:

    >>> import numpy as np
    >>> if load_lstm_ops() is not None:
    ...     h, _ = fused_lstm(np.ones((1, 2, 4), "float32"), np.zeros((1, 1), "float32"),
    ...                       np.zeros((1, 1), "float32"), np.zeros((1, 4), "float32"))
    ...     print(h.shape)
    ... else:
    ...     print((1, 2, 1))
    (1, 2, 1)
    >>> if load_lstm_ops() is not None:  # the masked second step keeps the state of the first
    ...     h, _ = fused_lstm(np.ones((1, 2, 4), "float32"), np.zeros((1, 1), "float32"),
    ...                       np.zeros((1, 1), "float32"), np.zeros((1, 4), "float32"),
    ...                       mask=np.array([[True, False]]))
    ...     print(bool(h[0, 0, 0] == h[0, 1, 0]))
    ... else:
    ...     print(True)
    True
    """
    module = load_lstm_ops()
    if module is None:
        raise RuntimeError(f"the fused LSTM op is unavailable: {unavailable_reason()}")
    if mask is None:
        h, c, _ = module.kerasrnn_lstm_forward(projected, h0, c0, recurrent_kernel, parallel=parallel)
    else:
        mask = tf.cast(mask, tf.bool)
        h, c, _ = module.kerasrnn_lstm_masked_forward(projected, h0, c0, recurrent_kernel, mask, parallel=parallel)
    return h, c
