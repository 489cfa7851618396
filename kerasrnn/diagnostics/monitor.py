"""`GradientNormMonitor`: the gradient norms of the steps `model.fit` actually takes."""

import numpy as np
import keras
import tensorflow as tf

from kerasrnn.validation import check_positive_int

# Order of the scalars recorded every step in one variable (one read per logged step).
SCALARS = ("global_norm", "global_norm_clipped", "clipped", "max_abs", "max_abs_clipped")


def _dense(gradient):
    # An Embedding's gradient is IndexedSlices with repeated rows; its norm is
    # the norm of the dense sum, not of the slices.
    return tf.cast(tf.convert_to_tensor(gradient), tf.float32)


def _as_clipped(gradient):
    # What Keras' clipping operates on: for IndexedSlices, the rows as they
    # come, before repeated rows are summed into the dense update.
    values = gradient.values if isinstance(gradient, tf.IndexedSlices) else gradient
    return tf.cast(values, tf.float32)


def _global_norm(tensors):
    return tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(t)) for t in tensors]))


def _max_abs(tensors):
    return tf.reduce_max(tf.stack([tf.reduce_max(tf.abs(t)) for t in tensors]))


class GradientNormMonitor(keras.callbacks.Callback):
    """Record gradient norms before and after clipping during `model.fit`.

    Every `every` steps it records the global L2 norm of all gradients before
    clipping (`global_norm`) and after (`global_norm_clipped`), whether the
    optimizer's clipping changed the step (`clipped`: some variable's norm
    above `clipnorm`, the global norm above `global_clipnorm`, or some
    component above `clipvalue`), the largest gradient component before and
    after (`max_abs`, `max_abs_clipped`), and each layer's gradient norm
    before clipping. Norms and maxima are of the dense gradients, i.e. of
    the update as applied. Note a Keras behaviour this makes visible: an
    `Embedding`'s gradient is `IndexedSlices`, and Keras clips its rows
    *before* repeated token rows are summed, so with `clipvalue` or
    `clipnorm` the applied embedding gradient can exceed the bound
    (`max_abs_clipped > clipvalue`); the dense layers' gradients obey it. The records are
    in `monitor.history`; per-epoch means (`grad_norm`, `grad_norm_clipped`,
    `clip_fraction`) are added to the epoch logs, so they appear in the
    `History` that `fit` returns; with `log_dir` they are also TensorBoard
    scalars (and, with `histograms=True`, per-layer gradient histograms).

    How it sees the gradients without changing training: for the duration of
    `fit` it wraps the optimizer's own clipping step (on the optimizer
    instance; the model class is untouched), so it records exactly the
    tensors the update uses. It computes no extra forward or backward pass
    and draws no random numbers, so the same seed gives bit-identical weights
    with and without it. It writes into variables of its own, outside the
    model and the optimizer, and restores the optimizer at the end of `fit`.
    With `steps_per_execution > 1` it sees the last step of each execution.

    Args:
        every: record every this many training steps (counted across epochs).
        log_dir: optional folder for TensorBoard summaries.
        histograms: also write per-layer histograms of the gradient values
            (needs `log_dir`; keeps a copy of the gradients, model-sized).

    Example:

    >>> import numpy as np
    >>> from kerasrnn.tasks import build_char_lm
    >>> model = build_char_lm(20, units=8, num_layers=1, clipnorm=1.0)
    >>> ids = np.random.default_rng(0).integers(1, 20, size=(8, 11))
    >>> monitor = GradientNormMonitor(every=1)
    >>> _ = model.fit(ids[:, :-1], ids[:, 1:], batch_size=4, epochs=1, callbacks=[monitor], verbose=0)
    >>> len(monitor.history["global_norm"])
    2
    """

    def __init__(self, every=1, log_dir=None, histograms=False):
        super().__init__()
        self.every = check_positive_int("every", every)
        if histograms and not log_dir:
            raise ValueError("`histograms=True` needs `log_dir`: histograms are written to TensorBoard.")
        if log_dir is not None:
            try:
                import tensorboard  # noqa: F401  (tf.summary needs it to write events)
            except ImportError as error:
                raise ValueError(
                    "`log_dir` needs the `tensorboard` package to write summaries: "
                    "`pip install tensorboard`, or leave log_dir=None."
                ) from error
        self.log_dir = log_dir
        self.histograms = bool(histograms)
        self.history = {"step": [], **{name: [] for name in SCALARS}, "layer_norms": {}}
        self._optimizer = None

    # -- the hook inside the optimizer ---------------------------------------

    def _target_optimizer(self):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            raise ValueError("GradientNormMonitor needs a compiled model: call `model.compile(...)` first.")
        # A LossScaleOptimizer unscales and then hands over to its inner optimizer, which clips.
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        if not hasattr(optimizer, "_clip_gradients") or not hasattr(optimizer, "_backend_apply_gradients"):
            raise ValueError(
                f"GradientNormMonitor needs a Keras 3 optimizer; got {type(optimizer).__name__}."
            )
        if "_clip_gradients" in vars(optimizer):
            raise ValueError("The optimizer is already monitored: use one GradientNormMonitor per fit.")
        return optimizer

    def _was_clipped(self, optimizer, grads):
        # The optimizer's own rule, evaluated on what it clips (see `_as_clipped`).
        grads = [_as_clipped(g) for g in grads]
        if optimizer.clipnorm:
            return tf.reduce_any(tf.stack([tf.norm(g) > optimizer.clipnorm for g in grads]))
        if optimizer.global_clipnorm:
            return _global_norm(grads) > optimizer.global_clipnorm
        if optimizer.clipvalue:
            return _max_abs(grads) > optimizer.clipvalue
        return tf.constant(False)

    def _record(self, optimizer, raw_grads, clipped_grads, variables):
        grads = [_dense(g) for g in raw_grads]
        after = [_dense(g) for g in clipped_grads]
        global_norm = _global_norm(grads)
        owners = [self._owner.get(id(v), "other") for v in variables]
        layer_norms = []
        for name in self._layer_names:
            own = [g for g, owner in zip(grads, owners) if owner == name]
            layer_norms.append(_global_norm(own) if own else tf.constant(0.0))
        scalars = [
            global_norm,
            _global_norm(after),
            tf.cast(self._was_clipped(optimizer, raw_grads), tf.float32),
            _max_abs(grads),
            _max_abs(after),
        ]
        self._values.assign(tf.stack(scalars + layer_norms))
        if self.histograms:
            for name, copy in self._copies.items():
                own = [tf.reshape(g, [-1]) for g, owner in zip(grads, owners) if owner == name]
                if own:
                    copy.assign(tf.concat(own, axis=0))

    def _install(self):
        optimizer = self._target_optimizer()
        clip, apply = optimizer._clip_gradients, optimizer._backend_apply_gradients
        current = {}

        def apply_and_remember(grads, trainable_variables):
            # Runs while the train function is traced: it only notes which
            # variable each gradient belongs to, for the per-layer norms.
            current["variables"] = list(trainable_variables)
            return apply(grads, trainable_variables)

        def clip_and_record(grads):
            clipped = clip(grads)
            self._record(optimizer, grads, clipped, current.get("variables", []))
            return clipped

        optimizer._backend_apply_gradients = apply_and_remember
        optimizer._clip_gradients = clip_and_record
        self._optimizer = optimizer

    def _uninstall(self):
        if self._optimizer is not None:
            del self._optimizer._clip_gradients
            del self._optimizer._backend_apply_gradients
            self._optimizer = None

    # -- Keras callback hooks -------------------------------------------------

    def on_train_begin(self, logs=None):
        self._owner, self._layer_names = {}, []
        for layer in self.model.layers:
            if layer.trainable_variables:
                self._layer_names.append(layer.name)
                for variable in layer.trainable_variables:
                    self._owner[id(variable)] = layer.name
        for name in self._layer_names:
            self.history["layer_norms"].setdefault(name, [])
        self._values = tf.Variable(tf.zeros(len(SCALARS) + len(self._layer_names)), trainable=False)
        self._copies = {}
        if self.histograms:
            for layer in self.model.layers:
                size = sum(int(np.prod(v.shape)) for v in layer.trainable_variables)
                if size:
                    self._copies[layer.name] = tf.Variable(tf.zeros(size), trainable=False)
        self._writer = tf.summary.create_file_writer(self.log_dir) if self.log_dir else None
        self._step = len(self.history["step"]) and self.history["step"][-1]
        self._epoch_start = len(self.history["step"])
        self._install()
        # The train function may have been traced by an earlier fit; trace it
        # again so that it goes through the hook.
        self.model.make_train_function(force=True)

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._step % self.every:
            return
        values = self._values.numpy()
        self.history["step"].append(self._step)
        for index, name in enumerate(SCALARS):
            value = float(values[index])
            self.history[name].append(bool(value) if name == "clipped" else value)
        for index, name in enumerate(self._layer_names):
            self.history["layer_norms"][name].append(float(values[len(SCALARS) + index]))
        if self._writer is not None:
            with self._writer.as_default(step=self._step):
                for index, name in enumerate(SCALARS):
                    tf.summary.scalar(f"gradients/{name}", values[index])
                for index, name in enumerate(self._layer_names):
                    tf.summary.scalar(f"gradients/layer_norm/{name}", values[len(SCALARS) + index])
                for name, copy in self._copies.items():
                    tf.summary.histogram(f"gradients/{name}", copy)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = len(self.history["step"])

    def on_epoch_end(self, epoch, logs=None):
        recorded = slice(self._epoch_start, len(self.history["step"]))
        if logs is None or not self.history["global_norm"][recorded]:
            return
        logs["grad_norm"] = float(np.mean(self.history["global_norm"][recorded]))
        logs["grad_norm_clipped"] = float(np.mean(self.history["global_norm_clipped"][recorded]))
        logs["clip_fraction"] = float(np.mean(self.history["clipped"][recorded]))

    def on_train_end(self, logs=None):
        self._uninstall()
        # The next fit must not reuse a train function that goes through the hook.
        self.model.train_function = None
        if self._writer is not None:
            self._writer.flush()

    def clip_fraction(self):
        """The fraction of recorded steps whose gradients the optimizer clipped.

        Example:

        >>> GradientNormMonitor().clip_fraction()
        0.0
        """
        clipped = self.history["clipped"]
        return float(np.mean(clipped)) if clipped else 0.0
