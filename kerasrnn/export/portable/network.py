"""Walk a trained kerasrnn network layer by layer and rebuild it with a backend's plain operators.

The converters that trace a Keras graph (tf2onnx, Keras' own LiteRT path)
meet kerasrnn's fused kernels as custom ops, turn masked recurrences into
loops that return NaN, or need TensorFlow Select (Flex) ops. This module
never traces: it reads the functional graph node by node and, for a small
explicit set of layers, calls a backend (`onnx_graph.OnnxGraph`,
`litert_graph.TensorFlowGraph`) with the layer's weights as numpy arrays.
Any other layer is a one-line `UnsupportedLayerError` naming it.

Keras' padding masks are carried beside every value, as Keras carries them
(`Embedding(mask_zero=True)` makes one, recurrent layers and pooling read
it, `Concatenate` ORs the masks of its inputs), so the rebuilt graph has
Keras' masked semantics: a padded step changes no state, and its output is
Keras' (zeros or the last real output).
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from kerasrnn.keras_adapter import run_functional_graph
from kerasrnn.layers.char_word_encoder import CharacterWordEncoder
from kerasrnn.layers.masked_max_pooling import MaskedGlobalMaxPooling1D
from kerasrnn.layers.word_dropout import WordDropout

# Layers that are the identity at inference (Keras skips them unless training=True).
IDENTITY_AT_INFERENCE = (
    keras.layers.Dropout,
    keras.layers.SpatialDropout1D,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
    keras.layers.ActivityRegularization,
)
ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "softmax")
# The layers a portable export rebuilds; in every error message about a layer outside them.
SUPPORTED = (
    "Embedding, SimpleRNN/LSTM/GRU (FastLSTM, keras.layers.RNN of one such cell; Bidirectional, stacked, masked), "
    "Dense, TimeDistributed(Dense), Activation, Concatenate, Add, Average, GlobalAveragePooling1D, "
    "GlobalMaxPooling1D, MaskedGlobalMaxPooling1D, CharacterWordEncoder, dropout and noise layers, nested models"
)


class UnsupportedLayerError(ValueError):
    """A layer (or a setting of one) that a portable export cannot rebuild; the message names it and why.

    Example:

    >>> str(UnsupportedLayerError("attention", "MultiHeadAttention", "ONNX", "not a recurrent layer"))[:46]
    "Cannot export layer 'attention' (MultiHeadAtte"
    """

    def __init__(self, name, kind, format_name, reason):
        super().__init__(f"Cannot export layer {name!r} ({kind}) to {format_name}: {reason}.")


@dataclasses.dataclass
class Recurrence:
    """One direction of a recurrent layer, its weights in Keras' layout (gate order, `(input, gates)` kernels).

    Attributes:
        name: the Keras layer's name.
        cell: `"simple_rnn"`, `"lstm"` or `"gru"`.
        units: the hidden size.
        kernel: `(features, gates * units)` input weights.
        recurrent_kernel: `(units, gates * units)` recurrent weights.
        bias: the input bias `(gates * units,)` (zeros without `use_bias`).
        recurrent_bias: GRU with `reset_after=True` only: the recurrent bias, else None.
        activation: SimpleRNN's activation name (LSTM and GRU are tanh/sigmoid, checked).
        go_backwards: read the steps last to first, as Keras' `go_backwards`.
        zero_output_for_mask: a masked step outputs zeros (else the last real output), as Keras.

    Example:

    >>> spec = Recurrence("lstm_1", "lstm", 2, np.zeros((3, 8), "float32"), np.zeros((2, 8), "float32"),
    ...                   np.zeros(8, "float32"))
    >>> spec.state_count
    2
    """

    name: str
    cell: str
    units: int
    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray
    recurrent_bias: np.ndarray = None
    activation: str = "tanh"
    go_backwards: bool = False
    zero_output_for_mask: bool = False

    @property
    def state_count(self):
        """States per layer: LSTM carries `h` and `c`, the others `h` alone."""
        return 2 if self.cell == "lstm" else 1


class Value:
    """A backend tensor and the Keras mask that travels with it (None when unmasked).

    Not a namedtuple or dataclass: Keras' tree utilities would flatten those.

    Args:
        tensor: the backend's tensor (a TensorFlow tensor, an ONNX value name).
        mask: the backend's boolean `(batch, time)` tensor, or None.

    Example:

    >>> Value("embedding_0", mask="not_0").mask
    'not_0'
    """

    def __init__(self, tensor, mask=None):
        self.tensor = tensor
        self.mask = mask


class _MaskOp:
    """What a bare Keras op node (a mask computation) maps to: nothing a layer may read as its input."""

    def __init__(self, operation):
        self.operation = operation


def _numpy(variable):
    # Weights are read while a backend may be tracing a tf.function, where a variable has no value:
    # init_scope reads it eagerly, so the graph gets constants.
    with tf.init_scope():
        return np.asarray(keras.ops.convert_to_numpy(variable), dtype="float32")


def _activation_name(function, layer, format_name, allowed=ACTIVATIONS):
    name = keras.activations.serialize(function)
    name = name if isinstance(name, str) else getattr(function, "__name__", repr(function))
    if name not in allowed:
        raise UnsupportedLayerError(
            layer.name, type(layer).__name__, format_name,
            f"activation {name!r} has no portable equivalent here (supported: {', '.join(allowed)})",
        )
    return name


def recurrence_of(layer, format_name):
    """The `Recurrence` of a Keras SimpleRNN/LSTM/GRU layer (or `RNN` of one such cell).

    Args:
        layer: a built `keras.layers.RNN` (kerasrnn's `FastLSTM` included).
        format_name: `"ONNX"` or `"LiteRT"`, for the error message.

    Raises:
        UnsupportedLayerError: a stateful layer, `return_state`, another
            cell, non-default gate activations, or a compute dtype other than float32.

    Example:

    >>> layer = keras.layers.GRU(3)
    >>> _ = layer(np.zeros((1, 2, 4), "float32"))
    >>> spec = recurrence_of(layer, "ONNX")
    >>> spec.cell, spec.kernel.shape, spec.recurrent_bias.shape
    ('gru', (4, 9), (9,))
    """
    kind = type(layer).__name__

    def refuse(reason):
        raise UnsupportedLayerError(layer.name, kind, format_name, reason)

    cell = layer.cell
    if layer.stateful:
        refuse("it is stateful (its state is carried between calls); export a stateless copy "
               "(kerasrnn.tasks.model_parts.stateful_copy(network, None))")
    if layer.return_state:
        refuse("return_state=True is not supported; the state is only exported by the char LM's step")
    if layer.compute_dtype != "float32":
        refuse(f"its compute dtype is {layer.compute_dtype}; portable exports are float32")
    if isinstance(cell, keras.layers.LSTMCell):
        name = "lstm"
    elif isinstance(cell, keras.layers.GRUCell):
        name = "gru"
    elif isinstance(cell, keras.layers.SimpleRNNCell):
        name = "simple_rnn"
    else:
        refuse(f"its cell is a {type(cell).__name__}, not a SimpleRNN, LSTM or GRU cell")
    if name == "simple_rnn":
        activation = _activation_name(cell.activation, layer, format_name, ("tanh", "relu", "sigmoid"))
    else:
        # ONNX's LSTM/GRU could take other activations, but LiteRT's loop and the checks here are for these.
        activation = _activation_name(cell.activation, layer, format_name, ("tanh",))
        _activation_name(cell.recurrent_activation, layer, format_name, ("sigmoid",))
    gates = {"simple_rnn": 1, "lstm": 4, "gru": 3}[name]
    units = int(cell.units)
    bias = np.zeros(gates * units, "float32") if not cell.use_bias else _numpy(cell.bias)
    recurrent_bias = None
    if name == "gru" and cell.reset_after:
        # Keras keeps (2, 3 * units): the input bias, then the recurrent one (inside the reset gate's product).
        recurrent_bias = bias[1] if cell.use_bias else np.zeros(gates * units, "float32")
        bias = bias[0] if cell.use_bias else bias
    return Recurrence(
        name=layer.name,
        cell=name,
        units=units,
        kernel=_numpy(cell.kernel),
        recurrent_kernel=_numpy(cell.recurrent_kernel),
        bias=bias,
        recurrent_bias=recurrent_bias,
        activation=activation,
        go_backwards=bool(layer.go_backwards),
        zero_output_for_mask=bool(layer.zero_output_for_mask),
    )


class NetworkConverter:
    """Rebuild a functional Keras network's inference graph with a backend's operators.

    Args:
        backend: an object with the operator methods this class calls
            (`onnx_graph.OnnxGraph` or `litert_graph.TensorFlowGraph`); its
            `format_name` names the format in errors. The operators:
            `gather(table, ids)`, `not_equal_zero(ids)`,
            `any_not_zero_last_axis(ids)`, `logical_or(a, b)`,
            `activation(x, name)`, `dense(x, kernel, bias, activation)`,
            `concat(tensors)` (last axis), `add(tensors)`, `mean(tensors)`,
            `multiply(a, b)`, `reduce_max_time(x)`, `masked_max_time(x, mask)`,
            `masked_mean_time(x, mask)`, `fold_words(char_ids)` (batch and
            words into one axis), `unfold_words(vectors, char_ids, features)`,
            `recurrent(spec, x, mask, return_sequences, initial_states)` →
            `(outputs, final states)` and `bidirectional(forward, backward, x,
            mask, return_sequences)` → `(forward outputs, backward outputs in
            input order)`, each with Keras' semantics at masked steps.
        carry_states: make every recurrent layer's initial state an input
            and its final state an output (the char LM's step, so a caller
            can feed one character at a time). Bidirectional layers refuse it.

    Example:

    >>> from kerasrnn.export.portable.litert_graph import TensorFlowGraph
    >>> inputs = keras.Input((None,), dtype="int32", name="token_ids")
    >>> outputs = keras.layers.Dense(2)(keras.layers.Embedding(5, 3)(inputs))
    >>> converter = NetworkConverter(TensorFlowGraph())
    >>> import tensorflow as tf
    >>> out = converter.convert(keras.Model(inputs, outputs), {"token_ids": tf.constant([[1, 2]])})
    >>> tuple(out.shape)
    (1, 2, 2)
    """

    def __init__(self, backend, carry_states=False):
        self.backend = backend
        self.carry_states = carry_states
        self._state_inputs = None
        self._state_outputs = []

    def convert(self, network, inputs, states=None):
        """Run `network` symbolically on backend tensors; returns its output tensor (or list of them).

        Args:
            network: a functional `keras.Model`.
            inputs: `{input name: backend tensor}` for every `network.inputs`.
            states: with `carry_states`, the list of initial state tensors,
                layer by layer (`h`, then `c` for an LSTM).
        """
        self._state_inputs = list(states or [])
        outputs = self._walk(network, [Value(inputs[tensor.name]) for tensor in network.inputs])
        if self.carry_states and self._state_inputs:
            raise ValueError(f"{len(self._state_inputs)} initial states were given beyond the network's layers.")
        for output in outputs:
            if isinstance(output, _MaskOp):
                raise UnsupportedLayerError(output.operation.name, type(output.operation).__name__,
                                            self.backend.format_name, "the network's output is computed by this "
                                            "op, which a portable export does not convert")
        return [output.tensor for output in outputs] if len(outputs) > 1 else outputs[0].tensor

    @property
    def final_states(self):
        """With `carry_states`, the final state tensors, in the order of the initial ones."""
        return list(self._state_outputs)

    def _walk(self, network, values):
        outputs = run_functional_graph(network, values, self._call)
        return outputs if isinstance(outputs, (list, tuple)) else [outputs]

    def _call(self, layer, *args, **kwargs):
        if not isinstance(layer, keras.layers.Layer):
            # A bare op in the graph: Keras 3 records each layer's compute_mask ops (not_equal, any,
            # logical_or, ...) as nodes and passes their result as `mask=`. The masks are propagated
            # here instead, by the same rules; an op whose result feeds a layer's inputs is refused there.
            return _MaskOp(layer)
        for value in keras.tree.flatten(args):
            if isinstance(value, _MaskOp):
                self._refuse(layer, f"its input is computed by the op {value.operation.name!r} "
                             f"({type(value.operation).__name__}), which a portable export does not convert")
        unexpected = sorted(key for key, value in kwargs.items() if key not in ("training", "mask") and value is not None)
        if unexpected:
            self._refuse(layer, f"it is called with {unexpected}, which a portable export does not pass on")
        if isinstance(layer, keras.Model):
            outputs = self._walk(layer, keras.tree.flatten(args))
            return outputs if len(outputs) > 1 else outputs[0]
        for kinds, method in self._DISPATCH:
            if isinstance(layer, kinds):
                return getattr(self, method)(layer, *args)
        self._refuse(layer, f"no portable conversion for this layer (supported: {SUPPORTED})")

    def _refuse(self, layer, reason):
        raise UnsupportedLayerError(layer.name, type(layer).__name__, self.backend.format_name, reason)

    # -- the supported layers ---------------------------------------------

    def _identity(self, layer, value):
        return value

    def _embedding(self, layer, ids):
        if getattr(layer, "quantization_mode", None):
            self._refuse(layer, f"it is quantized ({layer.quantization_mode})")
        table = _numpy(layer.embeddings)
        mask = self.backend.not_equal_zero(ids.tensor) if layer.mask_zero else None
        return Value(self.backend.gather(table, ids.tensor), mask)

    def _dense(self, layer, value):
        if getattr(layer, "quantization_mode", None):
            self._refuse(layer, f"it is quantized ({layer.quantization_mode})")
        if getattr(layer, "lora_enabled", False):
            self._refuse(layer, "LoRA is enabled; merge the LoRA weights into the kernel first")
        activation = _activation_name(layer.activation, layer, self.backend.format_name)
        bias = _numpy(layer.bias) if layer.use_bias else None
        tensor = self.backend.dense(value.tensor, _numpy(layer.kernel), bias, activation)
        return Value(tensor, value.mask)

    def _time_distributed(self, layer, value):
        if not isinstance(layer.layer, keras.layers.Dense):
            self._refuse(layer, f"it wraps a {type(layer.layer).__name__}; only TimeDistributed(Dense) is supported")
        return self._dense(layer.layer, value)

    def _activation(self, layer, value):
        name = _activation_name(layer.activation, layer, self.backend.format_name)
        return Value(self.backend.activation(value.tensor, name), value.mask)

    def _concatenate(self, layer, values):
        if layer.axis != -1:
            self._refuse(layer, f"axis={layer.axis}; only the feature axis (-1) is supported")
        return Value(self.backend.concat([value.tensor for value in values]), self._merged_mask(values, any_missing=True))

    def _merge(self, layer, values):
        if isinstance(layer, keras.layers.Average):
            tensor = self.backend.mean([value.tensor for value in values])
        else:
            tensor = self.backend.add([value.tensor for value in values])
        return Value(tensor, self._merged_mask(values, any_missing=False))

    def _merged_mask(self, values, any_missing):
        # Concatenate: an unmasked input counts as all-real, so the OR is all-real (no mask). Add/Average
        # (Keras' base merge): no mask unless every input has one.
        masks = [value.mask for value in values]
        if any(mask is None for mask in masks):
            return None
        merged = masks[0]
        for mask in masks[1:]:
            merged = self.backend.logical_or(merged, mask)
        return merged

    def _masked_max(self, layer, value):
        if value.mask is None:
            return Value(self.backend.reduce_max_time(value.tensor))
        return Value(self.backend.masked_max_time(value.tensor, value.mask))

    def _global_max(self, layer, value):
        self._check_pooling(layer)
        return Value(self.backend.reduce_max_time(value.tensor))  # Keras' own max pooling ignores the mask

    def _global_average(self, layer, value):
        self._check_pooling(layer)
        return Value(self.backend.masked_mean_time(value.tensor, value.mask))

    def _check_pooling(self, layer):
        if layer.data_format != "channels_last" or layer.keepdims:
            self._refuse(layer, "only channels_last pooling without keepdims is supported")

    def _recurrent(self, layer, value):
        spec = recurrence_of(layer, self.backend.format_name)
        initial = self._take_states(spec, layer)
        outputs, states = self.backend.recurrent(
            spec, value.tensor, value.mask, layer.return_sequences, initial_states=initial
        )
        if self.carry_states:
            self._state_outputs.extend(states)
        return Value(outputs, value.mask if layer.return_sequences else None)

    def _take_states(self, spec, layer):
        if not self.carry_states:
            return None
        if len(self._state_inputs) < spec.state_count:
            self._refuse(layer, "more recurrent layers than initial states were given")
        taken, self._state_inputs = self._state_inputs[: spec.state_count], self._state_inputs[spec.state_count :]
        return taken

    def _bidirectional(self, layer, value):
        if self.carry_states:
            self._refuse(layer, "a bidirectional layer cannot be stepped one character at a time")
        if layer.merge_mode not in ("concat", "sum", "ave", "mul"):
            self._refuse(layer, f"merge_mode={layer.merge_mode!r}; only concat, sum, ave and mul are supported")
        forward = recurrence_of(layer.forward_layer, self.backend.format_name)
        backward = recurrence_of(layer.backward_layer, self.backend.format_name)
        forward_out, backward_out = self.backend.bidirectional(
            forward, backward, value.tensor, value.mask, layer.return_sequences
        )
        merged = {
            "concat": lambda: self.backend.concat([forward_out, backward_out]),
            "sum": lambda: self.backend.add([forward_out, backward_out]),
            "ave": lambda: self.backend.mean([forward_out, backward_out]),
            "mul": lambda: self.backend.multiply(forward_out, backward_out),
        }[layer.merge_mode]()
        return Value(merged, value.mask if layer.return_sequences else None)

    def _character_word_encoder(self, layer, char_ids):
        # The layer's own call, step by step: fold words into the batch, embed the characters, read each
        # word with the (masked) BiLSTM, unfold; its output mask marks words with any character.
        backend = self.backend
        words = backend.fold_words(char_ids.tensor)
        embedded = backend.gather(_numpy(layer.embedding.embeddings), words)
        encoded = self._bidirectional(layer.encoder, Value(embedded, backend.not_equal_zero(words)))
        vectors = backend.unfold_words(encoded.tensor, char_ids.tensor, 2 * layer.char_units)
        return Value(vectors, backend.any_not_zero_last_axis(char_ids.tensor))

    # Order matters where classes nest: Bidirectional before RNN (neither is the other's subclass, but
    # kept apart from the generic checks below on purpose).
    _DISPATCH = (
        (IDENTITY_AT_INFERENCE + (WordDropout,), "_identity"),
        (keras.layers.Embedding, "_embedding"),
        (keras.layers.Bidirectional, "_bidirectional"),
        (keras.layers.RNN, "_recurrent"),
        (keras.layers.Dense, "_dense"),
        (keras.layers.TimeDistributed, "_time_distributed"),
        (keras.layers.Activation, "_activation"),
        (keras.layers.Concatenate, "_concatenate"),
        ((keras.layers.Average, keras.layers.Add), "_merge"),
        (MaskedGlobalMaxPooling1D, "_masked_max"),
        (keras.layers.GlobalMaxPooling1D, "_global_max"),
        (keras.layers.GlobalAveragePooling1D, "_global_average"),
        (CharacterWordEncoder, "_character_word_encoder"),
    )
