"""kerasrnn's oneDNN LSTM op: a whole unmasked LSTM layer, forward and backward, by oneDNN's LSTM primitive.

`lstm_onednn_ops.cc` (beside this file) wraps oneDNN's `lstm_forward` and
`lstm_backward` primitives (the ones PyTorch's CPU `nn.LSTM` runs) as the
TensorFlow ops `KerasrnnOnednnLstmForward` / `KerasrnnOnednnLstmBackward`.
It is compiled on first use, as `kerasrnn.kernels.lstm_op` is, against the
oneDNN that pip installs with kerasrnn on Linux x86-64 (the
`onednn-cpu-gomp` and `onednn-devel-cpu-gomp` wheels), or the one under
`$DNNLROOT` (its `include/` and `lib/`). `FastLSTM` runs it for unmasked
sequences; masked ones run the Eigen op of `lstm_op`, and without oneDNN or
with `KERASRNN_ONEDNN=0` (or `KERASRNN_FUSED_KERNELS=0`, which switches
every op off) it falls back the same way. `KERASRNN_ONEDNN_THREADS=n`
fixes how many threads oneDNN uses per call (`THREADS_ENV`).

Example:

>>> ops = load_onednn_lstm_ops()  # None, with onednn_unavailable_reason() saying why, where it cannot be built
>>> ops is not None or onednn_unavailable_reason() is not None
True
"""

import importlib.metadata
import os

import tensorflow as tf

from kerasrnn.kernels.lstm_op import ENABLE_ENV, OpLibrary

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lstm_onednn_ops.cc")
ONEDNN_ENV = "KERASRNN_ONEDNN"
ROOT_ENV = "DNNLROOT"
# How many OpenMP threads oneDNN may use per call of every oneDNN op (read on
# each call). Unset, an op runs a small layer (under 2**25 multiply-adds per
# step: the tagger's and sentiment's) on its calling thread alone, and a
# larger one on every thread unless another oneDNN call is running: see
# onednn_common.h for why and the measurements.
THREADS_ENV = "KERASRNN_ONEDNN_THREADS"
# The CPU-only oneDNN build with GNU OpenMP threads (no SYCL runtime), and its headers.
LIBRARY_DISTRIBUTION = "onednn-cpu-gomp"
HEADERS_DISTRIBUTION = "onednn-devel-cpu-gomp"


def _installed_file(distribution, suffix):
    # The wheels install into the environment's prefix (`include/`, `lib/`),
    # which their RECORD lists relative to site-packages.
    try:
        found = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in found.files or []:
        if ("/" + file.as_posix()).endswith("/" + suffix):
            return os.path.abspath(found.locate_file(file))
    return None


def onednn_flags():
    """Compiler flags for oneDNN's headers and library: `$DNNLROOT`, else the pip wheels.

    Returns:
        A list of flags: `-fopenmp`, `-I<include>`, `-L<lib>`, `-ldnnl` and an rpath to `<lib>`.

    Raises:
        RuntimeError: oneDNN is not found (the message says what to install).

    Example:

    >>> try:
    ...     print(onednn_flags()[-2])
    ... except RuntimeError:
    ...     print("-ldnnl")
    -ldnnl
    """
    root = os.environ.get(ROOT_ENV)
    if root:
        include, lib = os.path.join(root, "include"), os.path.join(root, "lib")
        header = os.path.join(include, "oneapi", "dnnl", "dnnl.hpp")
        if not os.path.isfile(header):
            raise RuntimeError(f"{ROOT_ENV}={root} has no include/oneapi/dnnl/dnnl.hpp")
    else:
        header = _installed_file(HEADERS_DISTRIBUTION, "oneapi/dnnl/dnnl.hpp")
        library = _installed_file(LIBRARY_DISTRIBUTION, "libdnnl.so")
        if header is None or library is None:
            missing = [name for name, path in ((HEADERS_DISTRIBUTION, header), (LIBRARY_DISTRIBUTION, library))
                       if path is None]
            raise RuntimeError(f"oneDNN is not installed: pip install {' '.join(missing)} (or set {ROOT_ENV})")
        include = os.path.dirname(os.path.dirname(os.path.dirname(header)))  # .../include/oneapi/dnnl/dnnl.hpp
        lib = os.path.dirname(library)
    # -fopenmp: the op sets up oneDNN's OpenMP threads (the same libgomp oneDNN links).
    return ["-fopenmp", f"-I{include}", f"-L{lib}", "-ldnnl", f"-Wl,-rpath,{lib}"]


def _register_gradient(module):
    @tf.RegisterGradient("KerasrnnOnednnLstmForward")
    def _onednn_lstm_gradient(op, dh, dh_last, dc_last, _dworkspace):
        h, h_last, c_last, workspace = op.outputs
        dh = tf.zeros_like(h) if dh is None else dh
        dh_last = tf.zeros_like(h_last) if dh_last is None else dh_last
        dc_last = tf.zeros_like(c_last) if dc_last is None else dc_last
        return list(module.kerasrnn_onednn_lstm_backward(
            *op.inputs, h, h_last, c_last, workspace, dh, dh_last, dc_last))


# Measured as lstm_op.BUILD_SECONDS is: 11 s into an empty cache right after lstm_ops.cc at load
# average 1.7, 34 s at load average 4.8.
BUILD_SECONDS = 15
_LIBRARY = OpLibrary(SOURCE, _register_gradient, "the oneDNN LSTM op", extra_flags=onednn_flags,
                     switches=(ENABLE_ENV, ONEDNN_ENV), build_seconds=BUILD_SECONDS)


def load_onednn_lstm_ops():
    """The loaded oneDNN LSTM op module, or None when it is unavailable or switched off.

    Returns:
        The module from `tf.load_op_library` (with `kerasrnn_onednn_lstm_forward`
        and `kerasrnn_onednn_lstm_backward`), or None.

    Example:

    >>> import os
    >>> os.environ["KERASRNN_ONEDNN"] = "0"
    >>> load_onednn_lstm_ops() is None, onednn_unavailable_reason()
    (True, 'switched off by KERASRNN_ONEDNN=0')
    >>> del os.environ["KERASRNN_ONEDNN"]
    """
    return _LIBRARY.load()


def onednn_unavailable_reason():
    """Why `load_onednn_lstm_ops()` returned None the last time it was asked, else None.

    Returns:
        A one-line reason (or the compiler's error output), or None if the op is loaded.

    Example:

    >>> _ = load_onednn_lstm_ops()
    >>> onednn_unavailable_reason() is None or isinstance(onednn_unavailable_reason(), str)
    True
    """
    return _LIBRARY.unavailable_reason()


def onednn_lstm(inputs, h0, c0, kernel, recurrent_kernel, bias):
    """Run a Keras LSTM layer's weights over a whole unmasked sequence with oneDNN; differentiable.

    Gate order and activations are Keras' (i, f, c, o; sigmoid, tanh), so
    the outputs equal `keras.layers.LSTM`'s with the same weights.

    Args:
        inputs: float32 `(batch, time, features)`.
        h0: float32 `(batch, units)` initial hidden state.
        c0: float32 `(batch, units)` initial cell state.
        kernel: float32 `(features, 4 * units)`, the layer's `cell.kernel`.
        recurrent_kernel: float32 `(units, 4 * units)`.
        bias: float32 `(4 * units,)`.

    Returns:
        `(h, h_last, c_last)`: the hidden state after every step `(batch, time, units)`,
        and the hidden and cell states after the last step, each `(batch, units)`.

    Raises:
        RuntimeError: the op is unavailable (the reason is in the message).

    Example:

    >>> import numpy as np
    >>> if load_onednn_lstm_ops() is not None:
    ...     h, h_last, c_last = onednn_lstm(np.ones((1, 2, 3), "float32"), np.zeros((1, 1), "float32"),
    ...                                     np.zeros((1, 1), "float32"), np.zeros((3, 4), "float32"),
    ...                                     np.zeros((1, 4), "float32"), np.zeros((4,), "float32"))
    ...     print(h.shape, h_last.shape)
    ... else:
    ...     print((1, 2, 1), (1, 1))
    (1, 2, 1) (1, 1)
    """
    module = load_onednn_lstm_ops()
    if module is None:
        raise RuntimeError(f"the oneDNN LSTM op is unavailable: {onednn_unavailable_reason()}")
    h, h_last, c_last, _ = module.kerasrnn_onednn_lstm_forward(inputs, h0, c0, kernel, recurrent_kernel, bias)
    return h, h_last, c_last
