"""`FastLSTM`: Keras' LSTM with the recurrence in a fused C++ op on a CPU, and a batched input projection.

Keras 3's `LSTM` on a CPU (no cuDNN) runs the cell once per step, and each
step multiplies that step's input by the input kernel: `T` small matmuls of
shape `(batch, features) x (features, gates)`. `FastLSTM` computes
`inputs @ kernel + bias` for all steps at once (one large, efficient matmul,
as PyTorch's CPU RNNs do) and keeps only `h @ recurrent_kernel` inside the
loop. Everything else is the Keras layer: the same cell class and weights (so
`set_weights` from a Keras layer gives the same outputs), masking,
`go_backwards`, `stateful`, `return_sequences`, `Bidirectional`, and cuDNN on
a GPU. `recurrent_dropout > 0` (during training) falls back to the Keras
loop, which handles it per step. (The same batched projection for GRU and
SimpleRNN was measured at 1.02x and dropped: benchmarks/RESULTS.md.)

`FastLSTM` goes one step further on a CPU when it can: the whole recurrence
(forward and backward) runs in one of kerasrnn's C++ ops (`kerasrnn.kernels`),
compiled on first use. Unmasked sequences (the char LM) run oneDNN's LSTM
primitive, the one PyTorch's CPU `nn.LSTM` runs, where the oneDNN wheels
that pip installs with kerasrnn on Linux x86-64 are present (per layer,
`layer.use_onednn = False` keeps it off). Masked sequences (a `(batch,
time)` mask, e.g. from `Embedding(mask_zero=True)`), and unmasked ones
without oneDNN, run kerasrnn's Eigen op: it carries the state over masked
steps and the layer gives those steps Keras' outputs (zeros with
`zero_output_for_mask`, as `Bidirectional` sets it for sequences; else the
last unmasked output, zeros before the first one).
Without a compiler, with `KERASRNN_FUSED_KERNELS=0`, a mask of another
rank, non-default activations, a dtype other than float32, or
`layer.use_fused_kernel = False` (as SavedModel exports set it, so TF
Serving never meets the custom op), it runs the batched-projection Keras
loop above.

`FastGRU` and `FastSimpleRNN` are Keras' `GRU` and `SimpleRNN` (same config
and weights) that run a whole layer, forward and backward, in oneDNN's GRU
(linear-before-reset, Keras' `reset_after=True`) and vanilla RNN primitives
on a CPU, for unmasked and masked (`(batch, time)` mask) sequences; every
other case runs Keras' own loop (their docstrings list the cases). `with_fast_rnn` and
`with_keras_rnn` swap all three layers of a saved model either way. The
builders use all three (`kerasrnn.layers.recurrent_stack.CELLS` says how
they measured against Keras' loop).

Example:

>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
>>> mask = np.array([[True, True, True, False], [False, True, True, True]])
>>> reference, fast = keras.layers.LSTM(2, return_sequences=True), FastLSTM(2, return_sequences=True)
>>> _ = reference(x), fast(x)
>>> fast.set_weights(reference.get_weights())
>>> bool(np.allclose(fast(x, mask=mask), reference(x, mask=mask), atol=1e-5))
True
"""

import keras
import tensorflow as tf
from keras import ops


def _gpu_present():
    return bool(tf.config.list_logical_devices("GPU"))


class _FusedKernelLayer:
    """Mixin of every kerasrnn RNN layer: when Keras' loop must run, input dropout, and a clear 0-step error."""

    # Instance attributes, not part of the config: they change the traced ops,
    # never the outputs (the fused ops equal the Keras loop to ~1e-7).
    use_fused_kernel = True
    use_onednn = True
    # How an error message names the cell ("an LSTM needs at least one time step").
    _cell_noun = "a recurrent layer"

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if len(sequences.shape) == 3 and sequences.shape[1] == 0:
            # Keras fails on a strided slice of step 0; say what is wrong instead.
            raise ValueError(
                f"`sequences` of {self.name} has 0 time steps (shape {tuple(sequences.shape)}); "
                f"{self._cell_noun} needs at least one time step."
            )
        return super().call(sequences, initial_state=initial_state, mask=mask, training=training)

    def _common_kernel_conditions(self, mask):
        return (
            self.use_fused_kernel
            and (mask is None or len(mask.shape) == 2)
            and keras.backend.backend() == "tensorflow"
            and self.compute_dtype == "float32"
            and not _gpu_present()
        )

    def _use_keras_loop(self, training):
        if training and self.recurrent_dropout:
            return True  # the recurrent mask is applied per step by the cell
        # On a GPU the parent tries cuDNN first, which is faster still.
        return getattr(self, "use_cudnn", False) in ("auto", True) and _gpu_present()  # SimpleRNN has no cuDNN

    def _dropped_inputs(self, sequences, training):
        cell = self.cell
        if training and 0.0 < cell.dropout < 1.0:
            # One mask per sequence, shared by all steps, as the Keras cell
            # and the cuDNN path draw it.
            dp_mask = cell.get_dropout_mask(sequences[:, 0, :])
            sequences = sequences * ops.expand_dims(dp_mask, axis=1)
        return sequences


class _BatchedInputProjection(_FusedKernelLayer):
    """Mixin: replace `inner_loop` with a loop over pre-projected inputs."""

    def _project_inputs(self, sequences, training):
        cell = self.cell
        projected = ops.matmul(self._dropped_inputs(sequences, training), cell.kernel)
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


def _load_onednn_lstm_ops():
    from kerasrnn.kernels import load_onednn_lstm_ops

    return load_onednn_lstm_ops()


def _backend_rnn(*args, **kwargs):
    from kerasrnn.keras_adapter import backend_rnn

    return backend_rnn(*args, **kwargs)


@keras.saving.register_keras_serializable(package="kerasrnn")
class FastLSTM(_BatchedInputProjection, keras.layers.LSTM):
    """`keras.layers.LSTM` with the input projection batched over time (same weights).

    On a CPU (TensorFlow backend, float32, no mask or a `(batch, time)`
    one, sigmoid/tanh, no recurrent dropout in training) the recurrence runs
    in a fused C++ op of `kerasrnn.kernels` when one is available: oneDNN's
    LSTM, masked batches of any pattern included (each row's real steps are
    gathered first, as `FastGRU` does), except a masked batch whose final
    states are read (`return_state`, `stateful`) or a single masked example
    outside training, which run kerasrnn's Eigen op; otherwise in Keras' loop. Masked steps get Keras' outputs and
    states either way.
    Set the instance attribute `use_fused_kernel = False` to keep a layer on
    the Keras loop (`kerasrnn.export.portable_rnn.without_cudnn` does so
    while exports trace), or `use_onednn = False` to keep it off oneDNN.

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
    >>> mask = np.array([[True, True, False, False, False], [True] * 5])
    >>> bool(np.allclose(fast(x, mask=mask), reference(x, mask=mask), atol=1e-5))
    True
    """

    _cell_noun = "an LSTM"

    def _fused_kernel_applies(self, mask):
        cell = self.cell
        return (
            self._common_kernel_conditions(mask)
            and cell.activation is keras.activations.tanh
            and cell.recurrent_activation is keras.activations.sigmoid
            and _load_lstm_ops() is not None
        )

    def inner_loop(self, sequences, initial_state, mask, training=False):
        bare_mask = mask[0] if isinstance(mask, (list, tuple)) else mask
        if self._use_keras_loop(training) or not self._fused_kernel_applies(bare_mask):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        h0, c0 = initial_state
        if self.use_onednn and _load_onednn_lstm_ops() is not None:
            if bare_mask is None:
                return self._onednn_loop(sequences, h0, c0, None, training)
            if not (self.return_state or self.stateful):
                mask = tf.cast(bare_mask, tf.bool)
                if training:
                    return self._onednn_loop(sequences, h0, c0, mask, training)
                # One example at a time (a user's sentence) the Eigen op answers
                # sooner: 2.4 against 4.0 ms for pos-ewt-bilstm; from two on oneDNN
                # does (1.49x on batches of 128 sentences). Measured 2026-12-06.
                return tf.cond(tf.shape(sequences)[0] > 1,
                               lambda: self._onednn_loop(sequences, h0, c0, mask, training),
                               lambda: self._eigen_loop(sequences, h0, c0, bare_mask, training))
        return self._eigen_loop(sequences, h0, c0, bare_mask, training)

    def _eigen_loop(self, sequences, h0, c0, bare_mask, training):
        from kerasrnn.kernels import fused_lstm

        projected = self._project_inputs(sequences, training)
        mask = None if bare_mask is None else tf.cast(bare_mask, tf.bool)
        if self.go_backwards:
            # Keras' loop reads the steps last to first and returns the outputs in that order.
            projected = tf.reverse(projected, axis=[1])
            mask = None if mask is None else tf.reverse(mask, axis=[1])
        h, c = fused_lstm(projected, h0, c0, self.cell.recurrent_kernel, mask=mask)
        outputs = h if mask is None else _masked_outputs(h, mask, self.zero_output_for_mask)
        return outputs[:, -1], outputs if self.return_sequences else outputs[:, -1:], [h[:, -1], c[:, -1]]

    def _onednn_loop(self, sequences, h0, c0, mask, training):
        from kerasrnn.kernels import onednn_lstm

        cell = self.cell
        inputs = self._dropped_inputs(sequences, training)
        if self.go_backwards:
            # Keras' loop reads the steps (and the mask) last to first and returns the outputs in that order.
            inputs = tf.reverse(inputs, axis=[1])
            mask = None if mask is None else tf.reverse(mask, axis=[1])
        bias = cell.bias if cell.use_bias else tf.zeros([4 * self.units], inputs.dtype)

        def run(steps):
            h, h_last, c_last = onednn_lstm(steps, h0, c0, cell.kernel, cell.recurrent_kernel, bias)
            return h, (h_last, c_last)

        if mask is None:
            h, (h_last, c_last) = run(inputs)
            return h_last, h if self.return_sequences else h[:, -1:], [h_last, c_last]
        states, (_, c_last) = _states_at_each_step(run, inputs, h0, mask)
        outputs = _masked_outputs(states, mask, self.zero_output_for_mask)
        # The op gives the hidden state of every step but the cell state only
        # after the last one, which for a padded row has also run its padding:
        # a masked batch takes this path only where nothing reads the final
        # states (no `return_state`, not stateful); the Eigen op serves those.
        return outputs[:, -1], outputs if self.return_sequences else outputs[:, -1:], [states[:, -1], c_last]

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


def _load_onednn_rnn_ops():
    from kerasrnn.kernels import load_onednn_rnn_ops

    return load_onednn_rnn_ops()


class _OnednnSingleStateLayer(_FusedKernelLayer):
    """Mixin of `FastGRU` and `FastSimpleRNN`: the whole layer in oneDNN's primitive, any `(batch, time)` mask around it.

    oneDNN's recurrent primitives have no per-step mask, and need none: a
    masked step only carries the state, so the states at a row's real steps
    are those of the unmasked layer run over that row's real steps alone.
    The layer gathers each row's real steps to the front (padding after
    them), runs the op over every step once, and gives each original step
    the state after the real steps up to it (the initial state before the
    first), with Keras' outputs at masked steps. Right-padded rows, the
    usual case, gather in place; left-padded or holey masks need no other
    path, so Keras' loop is never traced beside the op (a run-time check
    and a `tf.cond` to Keras' loop cost about 10% per step before).
    """

    def _onednn_layer(self, inputs, h0):
        raise NotImplementedError  # (h, h_last) of the cell's oneDNN op

    def _cell_supported(self):
        raise NotImplementedError

    def inner_loop(self, sequences, initial_state, mask, training=False):
        bare_mask = mask[0] if isinstance(mask, (list, tuple)) else mask
        if (self._use_keras_loop(training) or not self._common_kernel_conditions(bare_mask)
                or not self._cell_supported() or _load_onednn_rnn_ops() is None):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        h0 = initial_state[0] if isinstance(initial_state, (list, tuple)) else initial_state
        inputs = self._dropped_inputs(sequences, training)
        if self.go_backwards:
            # Keras' loop reads the steps (and the mask) last to first and returns the outputs in that order.
            inputs = tf.reverse(inputs, axis=[1])
            bare_mask = None if bare_mask is None else tf.reverse(bare_mask, axis=[1])
        if bare_mask is None:
            h, h_last = self._onednn_layer(inputs, h0)
            return h_last, h if self.return_sequences else h[:, -1:], [h_last]
        return self._masked_loop(inputs, h0, tf.cast(bare_mask, tf.bool))

    def _masked_loop(self, inputs, h0, mask):
        states, _ = _states_at_each_step(lambda gathered: self._onednn_layer(gathered, h0), inputs, h0, mask)
        outputs = _masked_outputs(states, mask, self.zero_output_for_mask)
        return outputs[:, -1], outputs if self.return_sequences else outputs[:, -1:], [states[:, -1]]


def _states_at_each_step(run, inputs, h0, mask):
    """The hidden state after every original step of a masked batch, from one unmasked run over each row's real steps.

    oneDNN's recurrent primitives have no per-step mask, and need none: a
    masked step only carries the state, so the states at a row's real steps
    are those of the unmasked layer run over that row's real steps alone.

    Args:
        run: runs the unmasked layer from `h0` over `(batch, time, features)`
            inputs; returns `(h, extra)`, `h` the hidden state of every step.
        inputs: `(batch, time, features)`.
        h0: `(batch, units)`, the state before the first step.
        mask: boolean `(batch, time)`, any pattern.

    Returns:
        `(states, extra)`: `(batch, time, units)` states (a masked step
        carries the state before it) and `run`'s `extra`.
    """
    # Each row's real steps first, in order, then its masked ones (a
    # stable sort on "is masked"): the identity for right-padded rows.
    real_first = tf.argsort(tf.cast(tf.logical_not(mask), tf.int32), axis=1, stable=True)
    h, extra = run(tf.gather(inputs, real_first, axis=1, batch_dims=1))
    # After step t a row has run cumsum(mask)[t] real steps: its state is
    # h0 before the first, then h at that count (masked steps carry it).
    real_steps_run = tf.math.cumsum(tf.cast(mask, tf.int32), axis=1)
    states = tf.gather(tf.concat([h0[:, None, :], h], axis=1), real_steps_run, axis=1, batch_dims=1)
    return states, extra


@keras.saving.register_keras_serializable(package="kerasrnn")
class FastGRU(_OnednnSingleStateLayer, keras.layers.GRU):
    """`keras.layers.GRU` that runs oneDNN's GRU primitive on a CPU (same config and weights).

    On a CPU (TensorFlow backend, float32, `reset_after=True` (Keras'
    default), tanh and sigmoid activations, no recurrent dropout in
    training, no mask or a `(batch, time)` one) the whole layer, forward and
    backward, runs in oneDNN's linear-before-reset GRU
    (`kerasrnn.kernels.onednn_gru`); masked steps get Keras' outputs and
    states. Otherwise (the op cannot be built, `KERASRNN_FUSED_KERNELS=0` or
    `KERASRNN_ONEDNN=0`, a mask of another rank, `recurrent_dropout` while training,
    `reset_after=False`, other activations or dtypes, a GPU, or the instance
    attribute `use_fused_kernel = False`, which exports set so SavedModels
    hold only standard ops) it runs Keras' own loop.

    Args:
        units: hidden units.
        **kwargs: the other arguments of `keras.layers.GRU` (`return_sequences`, `go_backwards`, ...).

    Example: the same outputs as Keras' `GRU` with its weights, for any mask pattern (here with gaps).

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    >>> fast, reference = FastGRU(4, return_sequences=True), keras.layers.GRU(4, return_sequences=True)
    >>> reference.build(x.shape)
    >>> fast.build(x.shape)
    >>> fast.set_weights(reference.get_weights())
    >>> gaps = np.array([[True, False, True, True, False], [False, True, True, True, True]])
    >>> bool(np.allclose(fast(x, mask=gaps), reference(x, mask=gaps), atol=1e-5))
    True
    """

    _cell_noun = "a GRU"

    def _cell_supported(self):
        cell = self.cell
        return (self.use_onednn and cell.reset_after and cell.activation is keras.activations.tanh
                and cell.recurrent_activation is keras.activations.sigmoid)

    def _onednn_layer(self, inputs, h0):
        from kerasrnn.kernels import onednn_gru

        cell = self.cell
        return onednn_gru(inputs, h0, cell.kernel, cell.recurrent_kernel, cell.bias if cell.use_bias else None)


@keras.saving.register_keras_serializable(package="kerasrnn")
class FastSimpleRNN(_OnednnSingleStateLayer, keras.layers.SimpleRNN):
    """`keras.layers.SimpleRNN` that runs oneDNN's vanilla RNN primitive on a CPU (same config and weights).

    On a CPU (TensorFlow backend, float32, tanh or relu activation, no
    recurrent dropout in training, no mask or a `(batch, time)` one) the
    whole layer, forward and backward, runs in oneDNN's vanilla RNN
    (`kerasrnn.kernels.onednn_simple_rnn`); masked steps get Keras' outputs
    and states. Otherwise (the op cannot be built, `KERASRNN_FUSED_KERNELS=0`
    or `KERASRNN_ONEDNN=0`, a mask of another rank, `recurrent_dropout` while
    training, another activation or dtype, or the instance attribute
    `use_fused_kernel = False`, which exports set) it runs Keras' own loop.
    The builders' `cell="simple_rnn"` uses this layer (`recurrent_stack.CELLS`).

    Args:
        units: hidden units; every other argument is `keras.layers.SimpleRNN`'s.
        **kwargs: passed to `keras.layers.SimpleRNN`.

    Example:

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    >>> reference, fast = keras.layers.SimpleRNN(4, activation="relu"), FastSimpleRNN(4, activation="relu")
    >>> _ = reference(x), fast(x)
    >>> fast.set_weights(reference.get_weights())
    >>> bool(np.allclose(fast(x), reference(x), atol=1e-5))
    True
    """

    _cell_noun = "a SimpleRNN"
    # The activations oneDNN's vanilla RNN has, by the names `onednn_simple_rnn` takes.
    _ACTIVATIONS = {keras.activations.tanh: "tanh", keras.activations.relu: "relu"}

    def _cell_supported(self):
        return self.use_onednn and self.cell.activation in self._ACTIVATIONS

    def _onednn_layer(self, inputs, h0):
        from kerasrnn.kernels import onednn_simple_rnn

        cell = self.cell
        return onednn_simple_rnn(inputs, h0, cell.kernel, cell.recurrent_kernel,
                                 cell.bias if cell.use_bias else None, self._ACTIVATIONS[cell.activation])


def _masked_outputs(states, mask, zero_output_for_mask):
    """Keras' masked-loop outputs from the hidden states of every step (in the order they ran).

    Keras' loop outputs zeros at a masked step with `zero_output_for_mask`;
    otherwise the previous step's output, which starts as zeros (not `h0`).
    As the state is carried over masked steps, that previous output is the
    state itself once any step has run, and zeros before: no scan needed,
    and the gradient reaches the last unmasked step through the op's carry.
    """
    if zero_output_for_mask:
        shown = mask
    else:
        shown = tf.math.cumsum(tf.cast(mask, tf.int32), axis=1) > 0
    return tf.where(shown[:, :, None], states, tf.zeros_like(states))


# Each Keras recurrent layer and the kerasrnn layer with its config and weights.
_KERAS_AND_FAST = ((keras.layers.LSTM, FastLSTM), (keras.layers.GRU, FastGRU),
                   (keras.layers.SimpleRNN, FastSimpleRNN))


def _swap_classes(config, targets):
    # Walk a serialized model and give every recurrent layer of a pair in
    # `_KERAS_AND_FAST` (Keras' or kerasrnn's) the class of that pair in
    # `targets`; their configs are the same, so nothing else changes.
    if isinstance(config, dict):
        for pair in _KERAS_AND_FAST:
            target = next((cls for cls in targets if cls in pair), None)
            if target is not None and config.get("class_name") in [cls.__name__ for cls in pair] and config.get(
                    "module") in ("keras.layers", FastLSTM.__module__):
                config["class_name"] = target.__name__
                config["module"] = "keras.layers" if target is pair[0] else target.__module__
                config["registered_name"] = keras.saving.get_registered_name(target)
        for value in config.values():
            _swap_classes(value, targets)
    elif isinstance(config, list):
        for value in config:
            _swap_classes(value, targets)
    return config


def _rebuilt_with(model, targets):
    config = _swap_classes(model.get_config(), targets)
    copy = model.__class__.from_config(config)
    copy.set_weights(model.get_weights())
    compile_config = model.get_compile_config() if model.compiled else None
    if compile_config:
        copy.compile_from_config(compile_config)
    return copy


def with_fast_lstm(model):
    """Rebuild a functional model with every `keras.layers.LSTM` as `FastLSTM` (same weights and outputs).

    A model saved before the builders used `FastLSTM` (e.g. an older zoo
    model) trains with the fused op after this. If `model` is compiled, the
    copy is compiled from the same compile config with a fresh optimizer.

    Args:
        model: a functional `keras.Model` (as the kerasrnn builders return).

    Returns:
        A new `keras.Model`.

    Example:

    >>> inputs = keras.Input((None, 3))
    >>> model = keras.Model(inputs, keras.layers.LSTM(4, name="lstm")(inputs))
    >>> type(with_fast_lstm(model).get_layer("lstm")).__name__
    'FastLSTM'
    """
    return _rebuilt_with(model, [FastLSTM])


def with_keras_lstm(model):
    """Rebuild a functional model with every `FastLSTM` as Keras' own `LSTM` (same weights and outputs).

    The copy runs Keras' recurrent loop: the reference the fused op is
    tested against. If `model` is compiled, the copy is compiled from the
    same compile config with a fresh optimizer.

    Args:
        model: a functional `keras.Model`.

    Returns:
        A new `keras.Model`.

    Example:

    >>> from kerasrnn.tasks import build_char_lm
    >>> model = build_char_lm(vocab_size=9, units=4, num_layers=1, learning_rate=2e-3)
    >>> type(with_keras_lstm(model).get_layer("lstm_1")).__name__
    'LSTM'
    >>> round(float(with_keras_lstm(model).optimizer.learning_rate), 6)
    0.002
    """
    return _rebuilt_with(model, [keras.layers.LSTM])


# The cell names of `kerasrnn.layers.recurrent_stack.CELLS`, each with its pair in `_KERAS_AND_FAST`.
_PAIR_OF_CELL = dict(zip(("lstm", "gru", "simple_rnn"), _KERAS_AND_FAST))


def with_fast_rnn(model, cells=("lstm", "gru", "simple_rnn")):
    """Rebuild a functional model with every Keras LSTM, GRU and SimpleRNN as kerasrnn's fast layer.

    `keras.layers.LSTM` becomes `FastLSTM`, `GRU` `FastGRU` and `SimpleRNN`
    `FastSimpleRNN`: the same weights and outputs, on fused CPU kernels. A
    model saved before the builders used them (e.g. an older zoo model)
    trains and predicts on the kernels after this. If `model` is compiled,
    the copy is compiled from the same compile config with a fresh optimizer.

    Args:
        model: a functional `keras.Model` (as the kerasrnn builders return).
        cells: which cells to swap (`"lstm"`, `"gru"`, `"simple_rnn"`); the others stay as they are.

    Returns:
        A new `keras.Model`.

    Example:

    >>> inputs = keras.Input((None, 3))
    >>> outputs = keras.layers.GRU(4, name="gru", return_sequences=True)(inputs)
    >>> model = keras.Model(inputs, keras.layers.SimpleRNN(2, name="rnn")(outputs))
    >>> fast = with_fast_rnn(model)
    >>> type(fast.get_layer("gru")).__name__, type(fast.get_layer("rnn")).__name__
    ('FastGRU', 'FastSimpleRNN')
    >>> type(with_fast_rnn(model, cells=["gru"]).get_layer("rnn")).__name__
    'SimpleRNN'
    """
    return _rebuilt_with(model, [_PAIR_OF_CELL[cell][1] for cell in cells])


def with_keras_rnn(model):
    """Rebuild a functional model with every `FastLSTM`, `FastGRU` and `FastSimpleRNN` as Keras' own layer.

    The copy runs Keras' recurrent loops, the reference the fused kernels
    are tested against, with the same weights and outputs. If `model` is
    compiled, the copy is compiled from the same compile config with a
    fresh optimizer.

    Args:
        model: a functional `keras.Model`.

    Returns:
        A new `keras.Model`.

    Example:

    >>> from kerasrnn.tasks import build_char_lm
    >>> model = build_char_lm(vocab_size=9, units=4, num_layers=1, cell="gru")
    >>> type(with_keras_rnn(model).get_layer("gru_1")).__name__
    'GRU'
    """
    return _rebuilt_with(model, [keras_class for keras_class, _ in _KERAS_AND_FAST])
