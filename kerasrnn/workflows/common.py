"""Pieces the task workflows share: the prepared data and the model's parts."""

import dataclasses

import keras
import numpy as np
import tensorflow as tf


@dataclasses.dataclass
class PreparedData:
    """Everything a task's `prepare` hands to training.

    Attributes:
        train: the training `tf.data.Dataset` of `(ids, targets)` batches.
        validation: the validation dataset, batched the same way.
        spec_arguments: builder arguments fixed by the data (e.g. `vocab_size`).
        vocabulary: the input vocabulary, special tokens included.
        labels: the output class names.
        train_examples: how many training examples (or characters) there are.
        preprocessing: keyword arguments of the task's `text_model` beyond the
            vocabulary and labels (e.g. `max_length`).
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    spec_arguments: dict
    vocabulary: list
    labels: list
    train_examples: int
    preprocessing: dict = dataclasses.field(default_factory=dict)


def as_strings(values):
    """Turn a vocabulary from a Keras lookup layer into plain `str` for JSON.

    Example:

    >>> as_strings([b"a", "b"])
    ['a', 'b']
    """
    return [value.decode("utf-8") if isinstance(value, bytes) else str(value) for value in values]


def inner_model(model):
    """Return the integer-id model nested inside an end-to-end text model.

    Example:

    >>> import keras
    >>> core = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(5, 2)])
    >>> text = keras.Input((None,), dtype="int32")
    >>> inner_model(keras.Model(text, core(text))) is core
    True
    """
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) != 1:
        raise ValueError(
            f"Expected a kerasrnn text model with one nested integer-id model; "
            f"found {len(nested)} in {model.name!r}."
        )
    return nested[0]


def label_names(model):
    """Return the output class names stored in a model's `LabelNames` layer.

    Example:

    >>> import keras
    >>> from kerasrnn.layers import LabelNames
    >>> inputs = keras.Input((2,))
    >>> label_names(keras.Model(inputs, LabelNames(["neg", "pos"])(inputs)))
    ['neg', 'pos']
    """
    for layer in model.layers:
        if hasattr(layer, "labels") and layer.__class__.__name__ == "LabelNames":
            return list(layer.labels)
    raise ValueError(f"Model {model.name!r} has no LabelNames layer: it is not a kerasrnn text model.")


def batched_predictions(core, dataset):
    """Yield `(inputs, targets, predictions)` as NumPy arrays for each batch.

    Example:

    >>> import keras, tensorflow as tf
    >>> core = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(5, 2)])
    >>> batches = tf.data.Dataset.from_tensors((tf.ones((1, 3), "int32"), tf.ones((1,), "int32")))
    >>> [p.shape for _, _, p in batched_predictions(core, batches)]
    [(1, 3, 2)]
    """
    forward = tf.function(lambda ids: core(ids, training=False), reduce_retracing=True)
    for inputs, targets in dataset:
        yield tf.nest.map_structure(np.asarray, inputs), targets.numpy(), np.asarray(forward(inputs))


def inference_copy(model):
    """A copy of `model` with the same weights and no optimizer or training state.

    Saved files then hold only what inference needs: a compiled model (even
    one nested in another) would also store its optimizer's slots, which for
    Adam triples the file.

    Example:

    >>> import keras
    >>> inputs = keras.Input((3,))
    >>> model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    >>> model.compile("adam", "mse")
    >>> copy = inference_copy(model)
    >>> copy.compiled, all((a == b).all() for a, b in zip(copy.get_weights(), model.get_weights()))
    (False, True)
    """
    copy = keras.Model.from_config(_without_compile_configs(model.get_config()))
    copy.set_weights(model.get_weights())
    return copy


def _without_compile_configs(config):
    # A nested model's serialized entry keeps its compile config, and Keras
    # compiles (and then saves optimizer slots for) any model rebuilt with one.
    if isinstance(config, dict):
        return {key: _without_compile_configs(value) for key, value in config.items() if key != "compile_config"}
    if isinstance(config, list):
        return [_without_compile_configs(value) for value in config]
    return config
