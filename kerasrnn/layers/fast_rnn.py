"""Recurrent layers that project every time step's input in one matmul before the loop.

Keras 3's `LSTM`, `GRU` and `SimpleRNN` on a CPU (no cuDNN) run the cell once
per step, and each step multiplies that step's input by the input kernel:
`T` small matmuls of shape `(batch, features) x (features, gates)`. These
subclasses compute `inputs @ kernel + bias` for all steps at once (one large,
efficient matmul, as PyTorch's CPU RNNs do) and keep only `h @ recurrent_kernel`
inside the loop. Everything else is the Keras layer: the same cell class and
weights (so `set_weights` from a Keras layer gives the same outputs), masking,
`go_backwards`, `stateful`, `return_sequences`, `Bidirectional`, and cuDNN on
a GPU. `recurrent_dropout > 0` (during training) and `GRU(reset_after=False)`
fall back to the Keras loop, which handles them per step.

`FastLSTM` goes one step further on a CPU when it can: the whole recurrence
(forward and backward) runs in kerasrnn's fused C++ op
(`kerasrnn.kernels`), compiled on first use. Without a compiler, with
`KERASRNN_FUSED_KERNELS=0`, with a mask, non-default activations, a dtype
other than float32, or `layer.use_fused_kernel = False` (as SavedModel
exports set it, so TF Serving never meets the custom op), it runs the
batched-projection Keras loop above.
"""

import keras
import tensorflow as tf
from keras import ops


def _gpu_present():
    return bool(tf.config.list_logical_devices("GPU"))


class _BatchedInputProjection:
    """Mixin: replace `inner_loop` with a loop over pre-projected inputs."""

    def _use_keras_loop(self, training):
        if training and self.recurrent_dropout:
            return True  # the recurrent mask is applied per step by the cell
        # On a GPU the parent tries cuDNN first, which is faster still.
        return self.use_cudnn in ("auto", True) and _gpu_present()

    def _project_inputs(self, sequences, training):
        cell = self.cell
        if training and 0.0 < cell.dropout < 1.0:
            # One mask per sequence, shared by all steps, as the Keras cell
            # and the cuDNN path draw it.
            dp_mask = cell.get_dropout_mask(sequences[:, 0, :])
            sequences = sequences * ops.expand_dims(dp_mask, axis=1)
        projected = ops.matmul(sequences, cell.kernel)
        input_bias = self._input_bias()
        if input_bias is not None:
            projected = projected + input_bias
        return projected

    def _input_bias(self):
        return self.cell.bias if self.cell.use_bias else None

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if self._use_keras_loop(training):
            return super().inner_loop(sequences, initial_state, mask=mask, training=training)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if not isinstance(initial_state, (list, tuple)):
            initial_state = [initial_state]
        projected = self._project_inputs(sequences, training)
        return _backend_rnn(
            self._step,
            projected,
            list(initial_state),
            go_backwards=self.go_backwards,
            mask=mask,
            unroll=self.unroll,
            input_length=sequences.shape[1],
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )


def _load_lstm_ops():
    from kerasrnn.kernels import load_lstm_ops

    return load_lstm_ops()


def _backend_rnn(*args, **kwargs):
    from kerasrnn.keras_adapter import backend_rnn

    return backend_rnn(*args, **kwargs)


@keras.saving.register_keras_serializable(package="kerasrnn")
class FastLSTM(_BatchedInputProjection, keras.layers.LSTM):
    """`keras.layers.LSTM` with the input projection batched over time (same weights).

    On a CPU (TensorFlow backend, float32, no mask, sigmoid/tanh, no
    recurrent dropout in training) the recurrence runs in the fused C++ op
    of `kerasrnn.kernels` when it is available; otherwise in Keras' loop.
    Set the instance attribute `use_fused_kernel = False` to keep a layer on
    the Keras loop (`kerasrnn.export.portable_rnn.without_cudnn` does so
    while exports trace).

    Args:
        units: hidden units; every other argument is `keras.layers.LSTM`'s.
        **kwargs: passed to `keras.layers.LSTM`.

    Example:

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    >>> reference, fast = keras.layers.LSTM(4), FastLSTM(4)
    >>> _ = reference(x), fast(x)
    >>> fast.set_weights(reference.get_weights())
    >>> bool(np.allclose(fast(x), reference(x), atol=1e-5))
    True
    """

    # Instance attribute, not part of the config: it changes the traced ops,
    # never the outputs (the fused op equals the Keras loop to ~1e-7).
    use_fused_kernel = True

    def _fused_kernel_applies(self, mask):
        cell = self.cell
        return (
            self.use_fused_kernel
            and mask is None
            and keras.backend.backend() == "tensorflow"
            and self.compute_dtype == "float32"
            and cell.activation is keras.activations.tanh
            and cell.recurrent_activation is keras.activations.sigmoid
            and not _gpu_present()
            and _load_lstm_ops() is not None
        )

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if len(sequences.shape) == 3 and sequences.shape[1] == 0:
            # Keras fails on a strided slice of step 0; say what is wrong instead.
            raise ValueError(
                f"`sequences` of {self.name} has 0 time steps (shape {tuple(sequences.shape)}); "
                "an LSTM needs at least one time step."
            )
        return super().call(sequences, initial_state=initial_state, mask=mask, training=training)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        bare_mask = mask[0] if isinstance(mask, (list, tuple)) else mask
        if self._use_keras_loop(training) or not self._fused_kernel_applies(bare_mask):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        from kerasrnn.kernels import fused_lstm

        h0, c0 = initial_state
        projected = self._project_inputs(sequences, training)
        if self.go_backwards:
            # Keras' loop reads the steps last to first and returns the outputs in that order.
            projected = tf.reverse(projected, axis=[1])
        h, c = fused_lstm(projected, h0, c0, self.cell.recurrent_kernel)
        last_output = h[:, -1]
        outputs = h if self.return_sequences else h[:, -1:]
        return last_output, outputs, [last_output, c[:, -1]]

    def _step(self, projected, states):
        h_tm1, c_tm1 = states
        cell = self.cell
        z = projected + ops.matmul(h_tm1, cell.recurrent_kernel)
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = cell.recurrent_activation(z_i)
        f = cell.recurrent_activation(z_f)
        c = f * c_tm1 + i * cell.activation(z_c)
        o = cell.recurrent_activation(z_o)
        h = o * cell.activation(c)
        return h, [h, c]


@keras.saving.register_keras_serializable(package="kerasrnn")
class FastGRU(_BatchedInputProjection, keras.layers.GRU):
    """`keras.layers.GRU` with the input projection batched over time (same weights).

    Args:
        units: hidden units; every other argument is `keras.layers.GRU`'s.
        **kwargs: passed to `keras.layers.GRU`.

    Example:

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    >>> reference, fast = keras.layers.GRU(4), FastGRU(4)
    >>> _ = reference(x), fast(x)
    >>> fast.set_weights(reference.get_weights())
    >>> bool(np.allclose(fast(x), reference(x), atol=1e-5))
    True
    """

    def _use_keras_loop(self, training):
        # reset_after=False multiplies r into h before the matmul: no split.
        return not self.cell.reset_after or super()._use_keras_loop(training)

    def _input_bias(self):
        return self.cell.bias[0] if self.cell.use_bias else None

    def _step(self, projected, states):
        h_tm1 = states[0]
        cell = self.cell
        inner = ops.matmul(h_tm1, cell.recurrent_kernel)
        if cell.use_bias:
            inner = inner + cell.bias[1]
        x_z, x_r, x_h = ops.split(projected, 3, axis=-1)
        h_z, h_r, h_h = ops.split(inner, 3, axis=-1)
        z = cell.recurrent_activation(x_z + h_z)
        r = cell.recurrent_activation(x_r + h_r)
        hh = cell.activation(x_h + r * h_h)
        h = z * h_tm1 + (1 - z) * hh
        return h, [h]


@keras.saving.register_keras_serializable(package="kerasrnn")
class FastSimpleRNN(_BatchedInputProjection, keras.layers.SimpleRNN):
    """`keras.layers.SimpleRNN` with the input projection batched over time (same weights).

    Args:
        units: hidden units; every other argument is `keras.layers.SimpleRNN`'s.
        **kwargs: passed to `keras.layers.SimpleRNN`.

    Example:

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    >>> reference, fast = keras.layers.SimpleRNN(4), FastSimpleRNN(4)
    >>> _ = reference(x), fast(x)
    >>> fast.set_weights(reference.get_weights())
    >>> bool(np.allclose(fast(x), reference(x), atol=1e-5))
    True
    """

    use_cudnn = False  # SimpleRNN has no cuDNN path; always run the batched loop.

    def _step(self, projected, states):
        h_tm1 = states[0]
        output = projected + ops.matmul(h_tm1, self.cell.recurrent_kernel)
        if self.cell.activation is not None:
            output = self.cell.activation(output)
        return output, [output]


FAST_CELLS = {"simple_rnn": FastSimpleRNN, "lstm": FastLSTM, "gru": FastGRU}

_FAST_BY_KERAS_NAME = {"SimpleRNN": FastSimpleRNN, "LSTM": FastLSTM, "GRU": FastGRU}


def _swap_classes(config):
    # Walk a serialized model and rename every Keras recurrent layer to its
    # Fast* twin; the layer configs are the same, so nothing else changes.
    if isinstance(config, dict):
        fast = _FAST_BY_KERAS_NAME.get(config.get("class_name"))
        if fast is not None and config.get("module") == "keras.layers":
            config["class_name"] = fast.__name__
            config["module"] = fast.__module__
            config["registered_name"] = keras.saving.get_registered_name(fast)
        for value in config.values():
            _swap_classes(value)
    elif isinstance(config, list):
        for value in config:
            _swap_classes(value)
    return config


def with_batched_input_projection(model):
    """Rebuild a functional model with every LSTM/GRU/SimpleRNN swapped for its Fast twin.

    The copy has the same layer names, configs and weights, so it computes
    the same outputs. If `model` is compiled, the copy is compiled from the
    same compile config (loss, metrics, `jit_compile`) with a fresh optimizer
    of the same config; otherwise it comes back uncompiled.

    Args:
        model: a functional `keras.Model` (as the kerasrnn builders return).

    Returns:
        A new `keras.Model`.

    Example:

    >>> from kerasrnn.tasks import build_sentiment_classifier
    >>> model = build_sentiment_classifier(vocab_size=30, units=4, embedding_dim=4, learning_rate=2e-3)
    >>> fast = with_batched_input_projection(model)
    >>> type(fast.get_layer("bidirectional_lstm_1").forward_layer).__name__
    'FastLSTM'
    >>> round(float(fast.optimizer.learning_rate), 6)
    0.002
    """
    config = _swap_classes(model.get_config())
    copy = model.__class__.from_config(config)
    copy.set_weights(model.get_weights())
    compile_config = model.get_compile_config() if model.compiled else None
    if compile_config:
        copy.compile_from_config(compile_config)
    return copy
