"""ONNX export: the network rebuilt with `onnx.helper`, recurrences as ONNX's standard LSTM/GRU/RNN operators.

tf2onnx meets kerasrnn's fused kernels as custom ops and turns masked
Keras recurrences into generic loops (onnx/tensorflow-onnx#1871), whose
output for masked GRUs is NaN. Here each recurrent layer is one `LSTM`,
`GRU` or `RNN` node (`direction="bidirectional"` for a Bidirectional
layer) whose `sequence_lens` input is each row's count of real steps, so
the padding is skipped as Keras' mask skips it: ONNX's forward direction
stops at a row's last real step, and its reverse direction starts there,
which is where Keras' backward layer starts on a right-padded masked
input. The padded steps' outputs are then set to Keras' (zeros, or the
last real output for a unidirectional layer). Inputs must therefore be
right-padded (real ids first, then 0s), which is what the preprocessing
of every kerasrnn task produces.

Opset 17 and IR version 8, deliberately: every operator used here has
had its current definition since opset 14 at the latest (LSTM/GRU/RNN-14,
Softmax-13 over one axis, ReduceSum-13 with axes as an input), so a newer
opset would add nothing and only narrow the runtimes that load the file;
17 is also the last opset whose ReduceMax/ReduceMean take `axes` as an
attribute. IR version 8 is the one opset 17 came with: onnx 1.23 writes
IR version 11 by default, which older runtimes refuse.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from kerasrnn.export.portable.network import NetworkConverter

OPSET = 17
IR_VERSION = 8
_LSTM_TO_ONNX_GATES = (0, 3, 1, 2)  # Keras packs i, f, c, o; ONNX i, o, f, c
_OPERATORS = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "RNN"}
_ACTIVATIONS = {"tanh": "Tanh", "relu": "Relu", "sigmoid": "Sigmoid"}


def _onnx_gate_order(array, spec, axis):
    if spec.cell != "lstm":
        return array  # GRU: Keras' z, r, h is ONNX's order; SimpleRNN has one gate
    gates = np.split(array, 4, axis=axis)
    return np.concatenate([gates[index] for index in _LSTM_TO_ONNX_GATES], axis=axis)


def onnx_weights(spec):
    """A `Recurrence`'s weights in ONNX's layout: `W (gates*H, F)`, `R (gates*H, H)`, `B (2*gates*H,)`.

    Example:

    >>> from kerasrnn.export.portable.network import Recurrence
    >>> spec = Recurrence("lstm", "lstm", 1, np.array([[1, 2, 3, 4]], "float32"), np.zeros((1, 4), "float32"),
    ...                   np.zeros(4, "float32"))
    >>> onnx_weights(spec)[0].ravel().tolist()  # i, o, f, c
    [1.0, 4.0, 2.0, 3.0]
    """
    w = _onnx_gate_order(spec.kernel, spec, axis=1).T
    r = _onnx_gate_order(spec.recurrent_kernel, spec, axis=1).T
    recurrent_bias = spec.recurrent_bias if spec.recurrent_bias is not None else np.zeros_like(spec.bias)
    b = np.concatenate([_onnx_gate_order(spec.bias, spec, 0), _onnx_gate_order(recurrent_bias, spec, 0)])
    return np.ascontiguousarray(w), np.ascontiguousarray(r), b


class OnnxGraph:
    """The operators `NetworkConverter` calls, as ONNX nodes; tensors are their names.

    Example:

    >>> graph = OnnxGraph()
    >>> x = graph.input("x", TensorProto.FLOAT, [None, 2])
    >>> graph.output(graph.dense(x, np.ones((2, 3), "float32"), None, "relu"), "y", TensorProto.FLOAT, [None, 3])
    >>> onnx.checker.check_model(graph.model())
    """

    format_name = "ONNX"

    def __init__(self):
        self.nodes, self.initializers, self.inputs, self.outputs = [], [], [], []
        self._names = {}
        self._constants = {}

    # -- bookkeeping -------------------------------------------------------

    def _name(self, stem):
        count = self._names.get(stem, 0)
        self._names[stem] = count + 1
        return f"{stem}_{count}" if count else stem

    def _node(self, operator, inputs, outputs=1, **attributes):
        names = [self._name(operator.lower()) for _ in range(outputs)] if isinstance(outputs, int) else outputs
        self.nodes.append(helper.make_node(operator, list(inputs), names, name=self._name(f"{operator}_node"),
                                           **attributes))
        return names[0] if len(names) == 1 else names

    def constant(self, array, stem="const"):
        """An initializer holding `array`; the same small constant is stored once."""
        array = np.asarray(array)
        key = (array.dtype.str, array.shape, array.tobytes()) if array.size <= 16 else None
        if key is not None and key in self._constants:
            return self._constants[key]
        name = self._name(stem)
        self.initializers.append(numpy_helper.from_array(array, name))
        if key is not None:
            self._constants[key] = name
        return name

    def _ints(self, *values):
        return self.constant(np.array(values, "int64"), "ints")

    def input(self, name, element_type, shape):
        """Declare a graph input (`None` for a dynamic dimension); returns its name."""
        self.inputs.append(helper.make_tensor_value_info(name, element_type, _dims(shape)))
        return name

    def output(self, tensor, name, element_type, shape):
        """Expose `tensor` as the graph output `name`."""
        self._node("Identity", [tensor], [name])
        self.outputs.append(helper.make_tensor_value_info(name, element_type, _dims(shape)))

    def model(self, doc_string=""):
        """The `onnx.ModelProto`, opset `OPSET`, IR version `IR_VERSION`."""
        graph = helper.make_graph(self.nodes, "kerasrnn", self.inputs, self.outputs, self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="kerasrnn",
                                  doc_string=doc_string)
        model.ir_version = IR_VERSION
        return model

    # -- elementwise and shape operators ----------------------------------

    def gather(self, table, ids):
        return self._node("Gather", [self.constant(table, "embeddings"), ids])

    def not_equal_zero(self, ids):
        return self._node("Not", [self._node("Equal", [ids, self.constant(np.array(0, "int32"))])])

    def any_not_zero_last_axis(self, ids):
        real = self._node("Cast", [self.not_equal_zero(ids)], to=TensorProto.INT32)
        most = self._node("ReduceMax", [real], axes=[-1], keepdims=0)
        return self._node("Greater", [most, self.constant(np.array(0, "int32"))])

    def logical_or(self, first, second):
        return self._node("Or", [first, second])

    def activation(self, x, name):
        if name == "linear":
            return x
        if name == "softmax":
            return self._node("Softmax", [x], axis=-1)
        return self._node({"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}[name], [x])

    def dense(self, x, kernel, bias, activation):
        y = self._node("MatMul", [x, self.constant(kernel, "kernel")])
        if bias is not None:
            y = self._node("Add", [y, self.constant(bias, "bias")])
        return self.activation(y, activation)

    def concat(self, tensors):
        return self._node("Concat", list(tensors), axis=-1)

    def add(self, tensors):
        total = tensors[0]
        for tensor in tensors[1:]:
            total = self._node("Add", [total, tensor])
        return total

    def mean(self, tensors):
        return self._node("Div", [self.add(tensors), self.constant(np.array(len(tensors), "float32"))])

    def multiply(self, first, second):
        return self._node("Mul", [first, second])

    def reduce_max_time(self, x):
        return self._node("ReduceMax", [x], axes=[1], keepdims=0)

    def _expand_mask(self, mask):
        return self._node("Unsqueeze", [mask, self._ints(-1)])

    def masked_max_time(self, x, mask):
        real = self._expand_mask(mask)
        lowest = self.constant(np.array(-np.inf, "float32"))
        pooled = self.reduce_max_time(self._node("Where", [real, x, lowest]))
        # A row with no real step pools to zeros, as MaskedGlobalMaxPooling1D does (not -inf).
        any_real = self._node("Greater", [self.lengths(mask), self.constant(np.array(0, "int32"))])
        any_real = self._node("Unsqueeze", [any_real, self._ints(-1)])
        return self._node("Where", [any_real, pooled, self.constant(np.array(0.0, "float32"))])

    def masked_mean_time(self, x, mask):
        if mask is None:
            return self._node("ReduceMean", [x], axes=[1], keepdims=0)
        weights = self._node("Cast", [self._expand_mask(mask)], to=TensorProto.FLOAT)
        total = self._node("ReduceSum", [self._node("Mul", [x, weights]), self._ints(1)], keepdims=0)
        return self._node("Div", [total, self._node("ReduceSum", [weights, self._ints(1)], keepdims=0)])

    def fold_words(self, char_ids):
        shape = self._node("Shape", [char_ids])
        characters = self._node("Slice", [shape, self._ints(2), self._ints(3)])
        return self._node("Reshape", [char_ids, self._node("Concat", [self._ints(-1), characters], axis=0)])

    def unfold_words(self, vectors, char_ids, features):
        leading = self._node("Slice", [self._node("Shape", [char_ids]), self._ints(0), self._ints(2)])
        return self._node("Reshape", [vectors, self._node("Concat", [leading, self._ints(features)], axis=0)])

    def lengths(self, mask):
        """Real steps per row, int32 `(batch,)`: ONNX's `sequence_lens` (the mask must be right-padded)."""
        return self._node("ReduceSum", [self._node("Cast", [mask], to=TensorProto.INT32), self._ints(1)], keepdims=0)

    # -- recurrences -------------------------------------------------------

    def recurrent(self, spec, x, mask, return_sequences, initial_states=None):
        """One recurrent layer as Keras runs it; returns `(outputs, final states)`.

        With `go_backwards` and `return_sequences`, the outputs are in the
        order the steps ran (last step first), as Keras returns them.
        """
        (outputs, last, states), = self._rnn_node([spec], x, mask, initial_states)
        if not return_sequences:
            return last, states
        if spec.go_backwards:
            outputs = self._node("Slice", [outputs, self._ints(-1), self._ints(np.iinfo(np.int64).min),
                                           self._ints(1), self._ints(-1)])
        return outputs, states

    def bidirectional(self, forward, backward, x, mask, return_sequences):
        """Both directions, in one ONNX node when their cells match; the backward outputs in input order."""
        if _same_node_kind(forward, backward) and not forward.go_backwards and backward.go_backwards:
            results = self._rnn_node([forward, backward], x, mask, None)
        else:
            results = self._rnn_node([forward], x, mask, None) + self._rnn_node([backward], x, mask, None)
        return tuple(outputs if return_sequences else last for outputs, last, _ in results)

    def _rnn_node(self, specs, x, mask, initial_states):
        """One ONNX LSTM/GRU/RNN node for one direction or a forward/backward pair.

        Returns per direction `(outputs (batch, time, units) in input order
        with Keras' values at padded steps, last output, final states)`.
        """
        first = specs[0]
        directions = len(specs)
        weights = [onnx_weights(spec) for spec in specs]
        w, r, b = (self.constant(np.stack([weight[index] for weight in weights]), stem)
                   for index, stem in enumerate(("W", "R", "B")))
        time_major = self._node("Transpose", [x], perm=[1, 0, 2])
        lengths = "" if mask is None else self.lengths(mask)
        inputs = [time_major, w, r, b, lengths]
        if initial_states is not None:
            inputs += [self._node("Unsqueeze", [state, self._ints(0)]) for state in initial_states]
        attributes = {"hidden_size": first.units}
        if directions == 2:
            attributes["direction"] = "bidirectional"
        elif first.go_backwards:
            attributes["direction"] = "reverse"
        if first.cell == "gru":
            attributes["linear_before_reset"] = int(first.recurrent_bias is not None)  # Keras' reset_after
        if first.cell == "simple_rnn":
            attributes["activations"] = [_ACTIVATIONS[spec.activation] for spec in specs]
        outputs = self._node(_OPERATORS[first.cell], inputs, 1 + first.state_count, **attributes)
        # Y: (time, directions, batch, units); Y_h, Y_c: (directions, batch, units).
        sequence, finals = outputs[0], outputs[1:]
        real = None if mask is None else self._expand_mask(mask)
        results = []
        for index, spec in enumerate(specs):
            pick = self.constant(np.array(index, "int64"))  # a scalar index: Gather drops the directions axis
            steps = self._node("Transpose", [self._node("Gather", [sequence, pick], axis=1)], perm=[1, 0, 2])
            states = [self._node("Gather", [final, pick], axis=0) for final in finals]
            last = states[0]
            if real is not None:
                # Keras' output at a padded step: zeros with zero_output_for_mask (as Bidirectional sets it
                # for sequences) and always for the backward direction (its padded steps run first, before
                # any output); otherwise the last real output, which is the final state.
                keep_last = not spec.zero_output_for_mask and not spec.go_backwards
                filler = self._node("Unsqueeze", [last, self._ints(1)]) if keep_last else self.constant(
                    np.array(0.0, "float32"))
                steps = self._node("Where", [real, steps, filler])
                if spec.zero_output_for_mask and not spec.go_backwards:
                    # The last output is then the last step's: zeros when that step is padding.
                    last_real = self._node("Gather", [mask, self.constant(np.array(-1, "int64"))], axis=1)
                    last_real = self._node("Unsqueeze", [last_real, self._ints(-1)])
                    last = self._node("Where", [last_real, last, self.constant(np.array(0.0, "float32"))])
            results.append((steps, last, states))
        return results


def _same_node_kind(first, second):
    return (first.cell, first.units, first.activation, first.recurrent_bias is None) == (
        second.cell, second.units, second.activation, second.recurrent_bias is None)


def _dims(shape):
    return [None if size is None else int(size) for size in shape]


def network_model(network, inputs, output_name, carry_states=False, state_sizes=(), doc_string=""):
    """The `onnx.ModelProto` computing `network`'s inference outputs.

    Args:
        network: the task model's integer-id functional network.
        inputs: `{Keras input name: (graph input name, shape)}`; the inputs are int32 ids.
        output_name: the graph output's name.
        carry_states: also take `state_<i>` inputs (float32 `(batch,
            units)`) and return `state_<i>_out` (the char LM's step).
        state_sizes: with `carry_states`, the size of each state.
        doc_string: the model's description.

    Example:

    >>> import keras
    >>> inputs = keras.Input((None,), dtype="int32", name="token_ids")
    >>> network = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Embedding(5, 3)(inputs)))
    >>> model = network_model(network, {"token_ids": ("token_ids", [None, None])}, "logits")
    >>> [output.name for output in model.graph.output]
    ['logits']
    """
    graph = OnnxGraph()
    tensors = {name: graph.input(exported, TensorProto.INT32, shape) for name, (exported, shape) in inputs.items()}
    states = [graph.input(f"state_{index}", TensorProto.FLOAT, [None, size]) for index, size in enumerate(state_sizes)]
    converter = NetworkConverter(graph, carry_states=carry_states)
    output = converter.convert(network, tensors, states=states)
    rank = len(network.outputs[0].shape)
    graph.output(output, output_name, TensorProto.FLOAT, [None] * rank)
    for index, (state, size) in enumerate(zip(converter.final_states, state_sizes)):
        graph.output(state, f"state_{index}_out", TensorProto.FLOAT, [None, size])
    model = graph.model(doc_string)
    onnx.checker.check_model(model)
    return model
