"""Pieces every task shares: the prepared training data, plain-string vocabularies, carried state."""

import dataclasses

import keras
import tensorflow as tf


@dataclasses.dataclass
class PreparedData:
    """Everything a task's `prepare` hands to training.

    Attributes:
        train: the training `tf.data.Dataset` of `(ids, targets)` batches.
        validation: the validation dataset, batched the same way.
        spec_arguments: builder arguments fixed by the data (e.g. `vocab_size`).
        preprocessor: the task's preprocessor, built from the training data
            (vocabulary, label names).
        train_examples: how many training examples (or characters) there are.
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    spec_arguments: dict
    preprocessor: keras.layers.Layer
    train_examples: int


def as_strings(values):
    """Turn a vocabulary from a Keras lookup layer into plain `str` for JSON.

    Example:

    >>> as_strings([b"a", "b"])
    ['a', 'b']
    """
    return [value.decode("utf-8") if isinstance(value, bytes) else str(value) for value in values]


def stateful_copy(core, batch_size):
    """Rebuild an integer-id char LM with stateful layers and a fixed batch size.

    The copy shares nothing with `core` but its weights, so feeding it one
    character at a time continues from the state the previous call left.
    `batch_size=None` gives back a stateless copy (used after stateful training).

    Example:

    >>> from kerasrnn.tasks.char_lm import build_char_lm
    >>> stepper = stateful_copy(build_char_lm(vocab_size=10, units=4, num_layers=1), 1)
    >>> stepper.layers[2].stateful
    True
    """
    config = core.get_config()
    for layer in config["layers"]:
        # The recorded build shapes carry the old batch size; the functional
        # rebuild infers new ones from the new input.
        layer.pop("build_config", None)
        layer_config = layer["config"]
        if layer["class_name"] == "InputLayer":
            layer_config["batch_shape"] = [batch_size, None]
        if "stateful" in layer_config:
            layer_config["stateful"] = batch_size is not None
    copy = keras.Model.from_config(config)
    copy.set_weights(core.get_weights())
    return copy


def reset_states(model):
    """Zero the carried state of every stateful recurrent layer of `model`."""
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_states()
