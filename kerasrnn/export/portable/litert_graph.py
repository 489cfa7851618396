"""LiteRT export: the network rebuilt as a `tf.function` of plain TensorFlow ops, converted with builtin ops only.

Keras' own LiteRT path traces its LSTM/GRU kernels, which need TensorFlow
Select (Flex) ops the stock LiteRT interpreter refuses (tensorflow#73254),
and TensorArrays with a dynamic batch fail to lower. Here every recurrent
layer is a `tf.while_loop` over time (`UNROLL` steps per iteration) whose
body is a few matmuls, sigmoids, tanhs and `tf.where`s, the input
projection of all steps is one matmul before the loop, and the step
outputs are written into a preallocated tensor: all of it converts to
LiteRT builtins (WHILE, IF, FULLY_CONNECTED, GATHER, SELECT_V2, ...) with
`supported_ops=[TFLITE_BUILTINS]`, so the converter fails rather than
fall back to Flex. Masks follow Keras' loop exactly (state carried over a
masked step, its output zeros or the last real output), for any mask, not
only right padding.
"""

import inspect

import numpy as np
import tensorflow as tf

from kerasrnn.export.portable.network import NetworkConverter


class TensorFlowGraph:
    """The operators `NetworkConverter` calls, as TensorFlow ops (eager or inside a `tf.function`).

    Example:

    >>> graph = TensorFlowGraph()
    >>> graph.dense(tf.ones([1, 2]), np.ones((2, 3), "float32"), None, "linear").numpy().tolist()
    [[2.0, 2.0, 2.0]]
    """

    format_name = "LiteRT"

    # -- elementwise and shape operators ----------------------------------

    def gather(self, table, ids):
        return tf.gather(tf.constant(table), ids)

    def not_equal_zero(self, ids):
        return tf.not_equal(ids, 0)

    def any_not_zero_last_axis(self, ids):
        return tf.reduce_any(tf.not_equal(ids, 0), axis=-1)

    def logical_or(self, first, second):
        return tf.logical_or(first, second)

    def activation(self, x, name):
        functions = {"linear": tf.identity, "relu": tf.nn.relu, "sigmoid": tf.sigmoid, "tanh": tf.tanh,
                     "softmax": lambda value: tf.nn.softmax(value, axis=-1)}
        return functions[name](x)

    def dense(self, x, kernel, bias, activation):
        # A 2-D matmul (LiteRT's FULLY_CONNECTED) over all leading axes at once.
        features, units = kernel.shape
        flat = tf.matmul(tf.reshape(x, [-1, features]), tf.constant(kernel))
        if bias is not None:
            flat = flat + tf.constant(bias)
        y = tf.reshape(flat, tf.concat([tf.shape(x)[:-1], [units]], axis=0))
        return self.activation(y, activation)

    def concat(self, tensors):
        return tf.concat(tensors, axis=-1)

    def add(self, tensors):
        total = tensors[0]
        for tensor in tensors[1:]:
            total = total + tensor
        return total

    def mean(self, tensors):
        return self.add(tensors) / float(len(tensors))  # Keras' Average: the sum, then one division

    def multiply(self, first, second):
        return first * second

    def reduce_max_time(self, x):
        return tf.reduce_max(x, axis=1)

    def masked_max_time(self, x, mask):
        real = tf.expand_dims(mask, -1)  # not mask[:, :, None]: a new-axis slice of bools needs Flex
        pooled = tf.reduce_max(tf.where(real, x, tf.fill(tf.shape(x), float("-inf"))), axis=1)
        return tf.where(tf.reduce_any(real, axis=1), pooled, tf.zeros_like(pooled))

    def masked_mean_time(self, x, mask):
        if mask is None:
            return tf.reduce_mean(x, axis=1)
        weights = tf.expand_dims(tf.cast(mask, x.dtype), -1)
        return tf.reduce_sum(x * weights, axis=1) / tf.reduce_sum(weights, axis=1)

    def fold_words(self, char_ids):
        return tf.reshape(char_ids, [-1, tf.shape(char_ids)[2]])

    def unfold_words(self, vectors, char_ids, features):
        shape = tf.shape(char_ids)
        return tf.reshape(vectors, [shape[0], shape[1], features])

    # -- recurrences -------------------------------------------------------

    def recurrent(self, spec, x, mask, return_sequences, initial_states=None):
        """One recurrent layer as Keras runs it; returns `(outputs, final states)`.

        With `go_backwards` and `return_sequences`, the outputs are in the
        order the steps ran (last step first), as Keras returns them.
        """
        (outputs, states), = _run_directions([spec], x, mask, return_sequences, [initial_states])
        if spec.go_backwards and return_sequences:
            outputs = tf.reverse(outputs, axis=[1])
        return outputs, states

    def bidirectional(self, forward, backward, x, mask, return_sequences):
        """Both directions in one loop; the backward outputs in input order (as `Bidirectional` flips them)."""
        (forward_out, _), (backward_out, _) = _run_directions(
            [forward, backward], x, mask, return_sequences, [None, None]
        )
        return forward_out, backward_out


def _cell_step(spec, projected, states, recurrent_kernel, recurrent_bias):
    """One Keras cell step from the step's input projection (`x @ kernel + bias`); returns the new states."""
    h = states[0]
    if spec.cell == "lstm":
        z = projected + tf.matmul(h, recurrent_kernel)
        i, f, g, o = tf.split(z, 4, axis=-1)
        c = tf.sigmoid(f) * states[1] + tf.sigmoid(i) * tf.tanh(g)
        return [tf.sigmoid(o) * tf.tanh(c), c]
    if spec.cell == "gru":
        x_z, x_r, x_h = tf.split(projected, 3, axis=-1)
        units = spec.units
        if recurrent_bias is not None:  # reset_after=True (Keras' default): the reset gate scales h @ U_h + b
            inner = tf.matmul(h, recurrent_kernel) + recurrent_bias
            r_z, r_r, r_h = tf.split(inner, 3, axis=-1)
            z, r = tf.sigmoid(x_z + r_z), tf.sigmoid(x_r + r_r)
            candidate = tf.tanh(x_h + r * r_h)
        else:  # reset_after=False: the reset gate scales h before the matmul
            r_z, r_r = tf.split(tf.matmul(h, recurrent_kernel[:, : 2 * units]), 2, axis=-1)
            z, r = tf.sigmoid(x_z + r_z), tf.sigmoid(x_r + r_r)
            candidate = tf.tanh(x_h + tf.matmul(r * h, recurrent_kernel[:, 2 * units :]))
        return [z * h + (1.0 - z) * candidate]
    activation = {"tanh": tf.tanh, "relu": tf.nn.relu, "sigmoid": tf.sigmoid}[spec.activation]
    return [activation(projected + tf.matmul(h, recurrent_kernel))]


# Steps unrolled per loop iteration. LiteRT's WHILE copies its loop variables (the outputs so far
# among them) at every iteration. sentiment-imdb-bigru on 64 reviews of 400 words: one step per
# iteration 8.0 s with the outputs written by a scatter (it lowers to several full-size ops), 1.9 s
# with one select, 0.68 s with 16 steps per iteration; 8 steps ran 64 x 100 words as fast as 16 (144 ms)
# and convert faster. Sequences shorter than this run one step per iteration, so a char LM's
# one-character step computes no padding steps.
UNROLL = 8


def _run_directions(specs, x, mask, return_sequences, initial_states):
    """Run recurrences over `x` (batch, time, features) in one `tf.while_loop`, Keras' mask semantics.

    Each direction's outputs come back in input order (a backward one
    writes step t's output at t); the last output is the output of the
    last step it ran. Returns `[(outputs or last output, final states)]`.
    """
    def run(unroll):
        return lambda: _loop(specs, x, mask, return_sequences, initial_states, unroll)

    return tf.cond(tf.shape(x)[1] >= UNROLL, run(UNROLL), run(1))


def _loop(specs, x, mask, return_sequences, initial_states, unroll):
    batch, steps = tf.shape(x)[0], tf.shape(x)[1]
    chunks = (steps + unroll - 1) // unroll
    padded = chunks * unroll  # the last chunk's steps beyond `steps` change nothing (`live` is False)
    features = x.shape[-1]
    flat = tf.reshape(x, [-1, features])
    projections, weights, carried = [], [], []
    for spec, initial in zip(specs, initial_states):
        # All steps' input projections in one matmul, time-major in chunks for the loop to slice.
        gates = spec.kernel.shape[1]
        projected = tf.reshape(tf.matmul(flat, tf.constant(spec.kernel)) + tf.constant(spec.bias), [batch, steps, gates])
        projected = tf.pad(projected, [[0, 0], [0, padded - steps], [0, 0]])
        projections.append(tf.reshape(tf.transpose(projected, [1, 0, 2]), [chunks, unroll, batch, gates]))
        recurrent_bias = None if spec.recurrent_bias is None else tf.constant(spec.recurrent_bias)
        weights.append((tf.constant(spec.recurrent_kernel), recurrent_bias))
        zeros = tf.zeros([batch, spec.units])
        states = list(initial) if initial is not None else [zeros] * spec.state_count
        outputs = tf.zeros([chunks, unroll, batch, spec.units]) if return_sequences else zeros
        carried.append((states, zeros, outputs))  # (states, previous output, outputs so far)
    # The steps a direction must skip: Keras' masked steps, and the padding of the last chunk. Both keep the
    # state; only a layer whose masked steps output zeros and that returns its last output must see the
    # chunk padding apart (its last output is the last real step's, not a masked zero).
    live = tf.range(padded) < steps if unroll > 1 else None
    separate = live is not None and mask is not None and not return_sequences and any(
        spec.zero_output_for_mask for spec in specs)
    real = None if mask is None else tf.pad(tf.transpose(mask, [1, 0]), [[0, padded - steps], [0, 0]])
    if live is not None and not separate:
        real = tf.broadcast_to(live[:, None], [padded, batch]) if real is None else tf.logical_and(real, live[:, None])
        live = None
    if real is not None:
        real = tf.reshape(tf.expand_dims(real, -1), [chunks, unroll, batch, 1])
    if live is not None:
        live = tf.reshape(live, [chunks, unroll])

    def body(chunk, carried):
        updated = []
        for spec, projected, (kernel, bias), (states, previous, outputs) in zip(specs, projections, weights, carried):
            index = chunks - 1 - chunk if spec.go_backwards else chunk
            inputs = projected[index]
            chunk_real = None if real is None else real[index]
            chunk_live = None if live is None else live[index]
            written = [None] * unroll
            for step in reversed(range(unroll)) if spec.go_backwards else range(unroll):
                new_states = _cell_step(spec, inputs[step], states, kernel, bias)
                output = new_states[0]
                if chunk_real is not None:
                    keep = chunk_real[step]
                    new_states = [tf.where(keep, new, old) for new, old in zip(new_states, states)]
                    output = tf.where(keep, output, 0.0 if spec.zero_output_for_mask else previous)
                if chunk_live is not None:
                    alive = chunk_live[step]
                    new_states = [tf.where(alive, new, old) for new, old in zip(new_states, states)]
                    output = tf.where(alive, output, previous)
                states, previous, written[step] = new_states, output, output
            if return_sequences:
                # One select over the outputs per iteration (a scatter lowers to several full-size ops).
                here = tf.reshape(tf.equal(tf.range(chunks), index), [chunks, 1, 1, 1])
                outputs = tf.where(here, tf.expand_dims(tf.stack(written), 0), outputs)
            updated.append((states, previous, outputs))
        return chunk + 1, updated

    _, carried = tf.while_loop(lambda chunk, _: chunk < chunks, body, (tf.constant(0), carried))
    results = []
    for spec, (states, last_output, outputs) in zip(specs, carried):
        if return_sequences:
            outputs = tf.transpose(tf.reshape(outputs, [padded, batch, spec.units])[:steps], [1, 0, 2])
        results.append((outputs if return_sequences else last_output, states))
    return results


def network_function(network, inputs, output_name, carry_states=False, state_sizes=()):
    """A `tf.function` computing `network`'s inference outputs with plain TensorFlow ops.

    Args:
        network: the task model's integer-id functional network.
        inputs: `{Keras input name: (argument name, shape)}`; the inputs are int32 ids.
        output_name: the name of the network's output in the function's result.
        carry_states: also take `state_<i>` inputs and return `state_<i>`
            outputs (the char LM's step).
        state_sizes: with `carry_states`, the size of each state.

    Returns:
        A `tf.function` returning `{output_name: ...}` (and with
        `carry_states`, `state_<i>_out` for each state).

    Example:

    >>> import keras
    >>> inputs = keras.Input((None,), dtype="int32", name="token_ids")
    >>> network = keras.Model(inputs, keras.layers.Dense(2, name="logits")(keras.layers.Embedding(5, 3)(inputs)))
    >>> function = network_function(network, {"token_ids": ("token_ids", [None, None])}, "logits")
    >>> tuple(function(token_ids=tf.constant([[1, 2]]))["logits"].shape)
    (1, 2, 2)
    """
    names = list(inputs)
    signature = [tf.TensorSpec(shape, tf.int32, name=exported) for exported, shape in inputs.values()]
    state_names = [f"state_{index}" for index in range(len(state_sizes))]
    signature += [tf.TensorSpec([None, size], tf.float32, name=name) for name, size in zip(state_names, state_sizes)]

    def compute(*tensors):
        converter = NetworkConverter(TensorFlowGraph(), carry_states=carry_states)
        feeds = dict(zip(names, tensors[: len(names)]))
        outputs = {output_name: converter.convert(network, feeds, states=list(tensors[len(names) :]))}
        if carry_states:
            outputs.update(
                {f"{name}_out": state for name, state in zip(state_names, converter.final_states)}
            )
        return outputs

    # Keyword arguments named as the inputs (the LiteRT signature's names too), though `compute` takes *tensors.
    compute.__signature__ = inspect.Signature(
        [inspect.Parameter(spec.name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for spec in signature]
    )
    return tf.function(compute, input_signature=signature, autograph=False)


def convert_to_litert(function):
    """Convert a `tf.function` (with an input signature) to LiteRT flatbuffer bytes, builtin ops only.

    `supported_ops=[TFLITE_BUILTINS]` alone: an op without a builtin is a
    conversion error here, never a Flex op that the stock interpreter
    would refuse at load time. No optimizations: float32 weights, so the
    outputs match Keras to float32 rounding.

    Example:

    >>> f = tf.function(lambda x: {"y": x * 2.0}, input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    >>> convert_to_litert(f)[4:8]
    b'TFL3'
    """
    module = tf.Module()
    module.function = function  # the converter keeps weak references: hold the function in a trackable
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()], module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()
