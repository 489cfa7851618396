"""The one place kerasrnn reaches into Keras' private modules.

- `get_keras_mask`: Keras keeps the padding mask of a prediction on the tensor itself and offers
no public accessor for it (Keras 3.15); its own metrics read it the same way.
- `backend_rnn`: the recurrent loop (masking, go_backwards, unroll) behind
  every Keras RNN layer, which `FastLSTM` and friends reuse.
- `tensorflow_trainer`: Keras' TensorFlow `fit` loop, whose module-level
  `reduce_per_replica` `kerasrnn.distribute.multi_worker_fit` corrects for
  several workers (keras-team/keras#20585).
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


__all__ = ["backend_rnn", "get_keras_mask", "nested_layers", "tensorflow_trainer"]


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
