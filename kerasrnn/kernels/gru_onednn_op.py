"""kerasrnn's oneDNN GRU and SimpleRNN op: a whole unmasked layer, forward and backward, by oneDNN.

`gru_onednn_ops.cc` (beside this file) wraps oneDNN's linear-before-reset
GRU (`lbr_gru_forward` / `lbr_gru_backward`, which is Keras'
`GRU(reset_after=True)`, its default) and its vanilla RNN (`vanilla_rnn_*`,
Keras' `SimpleRNN` with tanh or relu) as the TensorFlow ops
`KerasrnnOnednnRnnForward` / `KerasrnnOnednnRnnBackward`. It is built,
cached and switched exactly as the oneDNN LSTM op is (`lstm_onednn_op`:
the same oneDNN, `KERASRNN_ONEDNN=0` or `KERASRNN_FUSED_KERNELS=0` switch it
off, `KERASRNN_ONEDNN_THREADS` fixes its threads). `FastGRU` and
`FastSimpleRNN` run it; without it they run Keras' loop.

Example:

>>> ops = load_onednn_rnn_ops()  # None, with onednn_rnn_unavailable_reason() saying why, where it cannot be built
>>> ops is not None or onednn_rnn_unavailable_reason() is not None
True
"""

import os

import tensorflow as tf

from kerasrnn.kernels.lstm_onednn_op import ONEDNN_ENV, onednn_flags
from kerasrnn.kernels.lstm_op import ENABLE_ENV, OpLibrary

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gru_onednn_ops.cc")
# The op's `cell` attribute for each SimpleRNN activation oneDNN's vanilla RNN has.
SIMPLE_RNN_CELLS = {"tanh": "rnn_tanh", "relu": "rnn_relu"}


def _register_gradient(module):
    @tf.RegisterGradient("KerasrnnOnednnRnnForward")
    def _onednn_rnn_gradient(op, dh, dh_last, _dworkspace):
        h, h_last, workspace = op.outputs
        dh = tf.zeros_like(h) if dh is None else dh
        dh_last = tf.zeros_like(h_last) if dh_last is None else dh_last
        return list(module.kerasrnn_onednn_rnn_backward(
            *op.inputs, h, h_last, workspace, dh, dh_last, cell=op.get_attr("cell")))


# Measured into an empty cache on the 2-core development machine (g++ 12, -O3 -march=native): 27 s.
BUILD_SECONDS = 30
_LIBRARY = OpLibrary(SOURCE, _register_gradient, "the oneDNN GRU and SimpleRNN op", extra_flags=onednn_flags,
                     switches=(ENABLE_ENV, ONEDNN_ENV), build_seconds=BUILD_SECONDS)


def load_onednn_rnn_ops():
    """The loaded oneDNN GRU and SimpleRNN op module, or None when it is unavailable or switched off.

    Returns:
        The module from `tf.load_op_library` (with `kerasrnn_onednn_rnn_forward`
        and `kerasrnn_onednn_rnn_backward`), or None.

    Example:

    >>> import os
    >>> os.environ["KERASRNN_ONEDNN"] = "0"
    >>> load_onednn_rnn_ops() is None, onednn_rnn_unavailable_reason()
    (True, 'switched off by KERASRNN_ONEDNN=0')
    >>> del os.environ["KERASRNN_ONEDNN"]
    """
    return _LIBRARY.load()


def onednn_rnn_unavailable_reason():
    """Why `load_onednn_rnn_ops()` returned None the last time it was asked, else None.

    Returns:
        A one-line reason (or the compiler's error output), or None if the op is loaded.

    Example:

    >>> _ = load_onednn_rnn_ops()
    >>> onednn_rnn_unavailable_reason() is None or isinstance(onednn_rnn_unavailable_reason(), str)
    True
    """
    return _LIBRARY.unavailable_reason()


def _module(what):
    module = load_onednn_rnn_ops()
    if module is None:
        raise RuntimeError(f"the oneDNN {what} op is unavailable: {onednn_rnn_unavailable_reason()}")
    return module


def gru_bias(bias, units, dtype=tf.float32):
    """oneDNN's linear-before-reset GRU bias `(4 * units,)` from Keras' `GRU(reset_after=True)` bias.

    Keras keeps an input bias and a recurrent bias, `(2, 3 * units)`, each
    in gate order (z, r, h). Both are added before the z and r gates, so
    oneDNN keeps their sums; the candidate's input bias is added outside
    the reset gate and its recurrent bias inside, so oneDNN keeps both.
    Differentiable: the gradient reaches Keras' bias through this mapping.

    Args:
        bias: Keras' bias `(2, 3 * units)`, or None for `use_bias=False`.
        units: the layer's units.
        dtype: the dtype of the zeros returned for a None bias.

    Returns:
        A `(4 * units,)` tensor: z, r, the candidate's input bias, its recurrent bias.

    Example:

    >>> import numpy as np
    >>> gru_bias(np.arange(12, dtype="float32").reshape(2, 6), units=2).numpy().tolist()
    [6.0, 8.0, 10.0, 12.0, 4.0, 5.0, 10.0, 11.0]
    """
    if bias is None:
        return tf.zeros([4 * units], dtype)
    bias = tf.convert_to_tensor(bias)
    input_bias, recurrent_bias = bias[0], bias[1]
    return tf.concat([input_bias[: 2 * units] + recurrent_bias[: 2 * units], input_bias[2 * units:],
                      recurrent_bias[2 * units:]], axis=0)


def onednn_gru(inputs, h0, kernel, recurrent_kernel, bias):
    """Run a Keras `GRU(reset_after=True)` layer's weights over a whole unmasked sequence with oneDNN.

    Differentiable with respect to every argument. Gate order and
    activations are Keras' (z, r, h; sigmoid, tanh), so the outputs equal
    `keras.layers.GRU`'s with the same weights.

    Args:
        inputs: float32 `(batch, time, features)`.
        h0: float32 `(batch, units)` initial state.
        kernel: float32 `(features, 3 * units)`, the layer's `cell.kernel`.
        recurrent_kernel: float32 `(units, 3 * units)`.
        bias: float32 `(2, 3 * units)` (input and recurrent bias), or None.

    Returns:
        `(h, h_last)`: the state after every step `(batch, time, units)` and after the last one `(batch, units)`.

    Raises:
        RuntimeError: the op is unavailable (the reason is in the message).

    Example:

    >>> import numpy as np
    >>> if load_onednn_rnn_ops() is not None:
    ...     h, h_last = onednn_gru(np.ones((1, 2, 3), "float32"), np.zeros((1, 1), "float32"),
    ...                            np.zeros((3, 3), "float32"), np.zeros((1, 3), "float32"), None)
    ...     print(h.shape, h_last.shape)
    ... else:
    ...     print((1, 2, 1), (1, 1))
    (1, 2, 1) (1, 1)
    """
    module = _module("GRU")
    units = tf.shape(recurrent_kernel)[0]
    h, h_last, _ = module.kerasrnn_onednn_rnn_forward(inputs, h0, kernel, recurrent_kernel,
                                                      gru_bias(bias, units), cell="gru")
    return h, h_last


def onednn_simple_rnn(inputs, h0, kernel, recurrent_kernel, bias, activation="tanh"):
    """Run a Keras `SimpleRNN` layer's weights over a whole unmasked sequence with oneDNN's vanilla RNN.

    Differentiable with respect to every argument; the outputs equal
    `keras.layers.SimpleRNN`'s with the same weights and activation.

    Args:
        inputs: float32 `(batch, time, features)`.
        h0: float32 `(batch, units)` initial state.
        kernel: float32 `(features, units)`, the layer's `cell.kernel`.
        recurrent_kernel: float32 `(units, units)`.
        bias: float32 `(units,)`, or None.
        activation: `"tanh"` or `"relu"`.

    Returns:
        `(h, h_last)`: the state after every step `(batch, time, units)` and after the last one `(batch, units)`.

    Raises:
        RuntimeError: the op is unavailable (the reason is in the message).
        ValueError: another activation.

    Example:

    >>> import numpy as np
    >>> if load_onednn_rnn_ops() is not None:
    ...     h, _ = onednn_simple_rnn(np.ones((1, 2, 3), "float32"), np.zeros((1, 1), "float32"),
    ...                              np.ones((3, 1), "float32"), np.zeros((1, 1), "float32"), None, "relu")
    ...     print(h.numpy().ravel().tolist())
    ... else:
    ...     print([3.0, 3.0])
    [3.0, 3.0]
    """
    if activation not in SIMPLE_RNN_CELLS:
        raise ValueError(f"`activation` must be one of {sorted(SIMPLE_RNN_CELLS)}. Received: {activation!r}")
    module = _module("SimpleRNN")
    if bias is None:
        bias = tf.zeros(tf.shape(recurrent_kernel)[:1], tf.float32)
    h, h_last, _ = module.kerasrnn_onednn_rnn_forward(inputs, h0, kernel, recurrent_kernel, bias,
                                                      cell=SIMPLE_RNN_CELLS[activation])
    return h, h_last
