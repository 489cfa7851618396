"""The one place kerasrnn reaches into Keras' private modules.

- `get_keras_mask`: Keras keeps the padding mask of a prediction on the tensor itself and offers
no public accessor for it (Keras 3.15); its own metrics read it the same way.
- `backend_rnn`: the recurrent loop (masking, go_backwards, unroll) behind
  every Keras RNN layer, which `FastLSTM` and friends reuse.
- `multi_worker_fit`: Keras' TensorFlow `fit` loop builds the model from a
  cross-worker "reduced" batch and reduces scalar step outputs along axis 0;
  this context corrects both for several workers (keras-team/keras#20585) by
  patching the model's build step and the trainer module's `reduce_per_replica`.
- `nested_layers`: every layer inside a layer, including those a custom
  layer keeps as attributes (Keras tracks them, but `Layer` has no public
  `layers` property; `Model.layers` lists only the top level).

- `compiled_loss`: the loss given to `compile`, without the regularization
  losses `Model.compute_loss` adds (adversarial training adds it a second time,
  on perturbed inputs, and must not count the regularization twice).
- `first_call_argument`: which tensor a layer of a functional model was
  called on (Keras keeps a layer's call graph in `_inbound_nodes`).
- `run_functional_graph`: a functional model's nodes in graph order, each
  through a function of the caller's (the portable exports rebuild a
  network with other operators this way).

If a Keras release moves it, this is the only import to update.

Example:

>>> import numpy as np
>>> get_keras_mask(np.zeros((2, 3))) is None
True
"""

import contextlib

import tensorflow as tf
from keras.src.backend import get_keras_mask
from keras.src.backend import rnn as backend_rnn  # the loop every Keras RNN runs; not under `keras.*`
from keras.src.backend.tensorflow import trainer as tensorflow_trainer  # `fit`'s per-step reductions



def nested_layers(layer):
    """`layer` and every layer it tracks, at any depth.

    Example:

    >>> import keras
    >>> outer = keras.layers.Bidirectional(keras.layers.LSTM(2))
    >>> sorted({type(inner).__name__ for inner in nested_layers(outer)})
    ['Bidirectional', 'LSTM', 'LSTMCell']
    """
    return list(layer._flatten_layers(include_self=True, recursive=True))


__all__ = [
    "backend_rnn",
    "compiled_loss",
    "first_call_argument",
    "get_keras_mask",
    "multi_worker_fit",
    "nested_layers",
    "run_functional_graph",
    "tensorflow_trainer",
]


def compiled_loss(model, y, y_pred, sample_weight=None):
    """The compiled loss of `model` on `(y, y_pred)`, without regularization losses.

    Example:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    >>> model.compile(loss="sparse_categorical_crossentropy")
    >>> round(float(compiled_loss(model, np.array([0]), np.array([[0.5, 0.5]]))), 4)
    0.6931
    """
    return model._compile_loss(y, y_pred, sample_weight)


def first_call_argument(layer):
    """The first tensor `layer` was called on in its (only) functional graph, or None.

    Example:

    >>> import keras
    >>> inputs = keras.Input((2,))
    >>> dense = keras.layers.Dense(1)
    >>> _ = dense(inputs)
    >>> first_call_argument(dense) is inputs
    True
    """
    nodes = layer._inbound_nodes
    return nodes[0].arguments.args[0] if len(nodes) == 1 and nodes[0].arguments.args else None


def run_functional_graph(model, inputs, call):
    """Run a functional model's nodes in graph order, each through `call(layer, *args, **kwargs)`.

    The portable exports rebuild a network with other operators: Keras
    offers no public walk over a functional graph's nodes with the
    arguments each layer was called on. `inputs` are in the order of
    `model.inputs`; returns what the model's outputs map to.

    Example:

    >>> import keras
    >>> inputs = keras.Input((2,))
    >>> model = keras.Model(inputs, keras.layers.Dense(1, name="head")(inputs))
    >>> run_functional_graph(model, ["x"], lambda layer, value: f"{layer.name}({value})")
    'head(x)'
    """
    return model._run_through_graph(inputs, operation_fn=lambda operation: operation, call_fn=call)


def _first_local_value(value):
    if isinstance(value, tf.distribute.DistributedValues):
        return value.values[0]
    return value


def _scalar_safe_reduce(keras_reduce, is_multi_worker):
    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and is_multi_worker(strategy):
            # Keras reduces every step output with `reduce("MEAN", v, axis=0)`
            # across workers; the losses and metrics are scalars, which have no
            # axis 0. Average them across replicas as single-worker Keras does.
            def reduce(value):
                if isinstance(value, (tf.Tensor, tf.distribute.DistributedValues)) and value.shape.rank == 0:
                    return strategy.reduce("MEAN", value, axis=None)
                return keras_reduce(value, strategy, reduction)

            return tf.nest.map_structure(reduce, values)
        return keras_reduce(values, strategy, reduction)

    return reduce_per_replica


@contextlib.contextmanager
def multi_worker_fit(model):
    """Let Keras 3 `fit`/`evaluate` run `model` under a multi-worker strategy (keras-team/keras#20585).

    Two steps of Keras' TensorFlow trainer fail with more than one worker,
    both by handing a cross-worker reduction something it cannot reduce:

    1. Before the first step Keras builds the model, its metrics and
       optimizer from the first batch, "reducing" that batch first with
       `strategy.reduce("MEAN", batch, axis=None)`. `Strategy.reduce` does not
       take a nest of per-replica values; single-worker strategies hand the
       nest back unchanged, but `MultiWorkerMirroredStrategy` sends it to a
       cross-worker all-reduce, which fails converting the tuple of
       `PerReplica` batches to a tensor (the error of the issue). Only shapes
       and dtypes are needed, so here the build uses this worker's first
       replica's batch, with no communication (length buckets would also make
       the batches' shapes differ between workers).
    2. After every step Keras averages the step's outputs (loss, metrics)
       with `strategy.reduce("MEAN", v, axis=0)` across workers; they are
       scalars, with no axis 0. Here scalars are averaged across replicas
       (`axis=None`), as Keras does on one worker.

    Only `model`'s build step and, while the context lasts, Keras' per-step
    reduction change; single-worker strategies take Keras' own code paths.

    Example:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(loss="mse")
    >>> with multi_worker_fit(model):  # one worker here: Keras' own code paths
    ...     history = model.fit(np.zeros((4, 2)), np.zeros((4, 1)), verbose=0)
    >>> sorted(history.history)
    ['loss']
    """
    # Imported on use: the layers and tasks import this adapter, and only `fit` needs the training package.
    from kerasrnn.training.distribute import is_multi_worker

    keras_build = model._maybe_symbolic_build
    keras_reduce = tensorflow_trainer.reduce_per_replica

    def build_from_local_batch(iterator=None, data_batch=None):
        strategy = model._distribute_strategy
        if strategy is None or not is_multi_worker(strategy):
            return keras_build(iterator=iterator, data_batch=data_batch)
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(_first_local_value, next(batches))
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = build_from_local_batch
    tensorflow_trainer.reduce_per_replica = _scalar_safe_reduce(keras_reduce, is_multi_worker)
    try:
        yield model
    finally:
        tensorflow_trainer.reduce_per_replica = keras_reduce
        del model._maybe_symbolic_build
