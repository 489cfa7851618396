"""`RecurrentBackbone`: integer ids in, recurrent features out; the part every task network shares.

The backbone is a functional `keras.Model` built in `__init__` from the
recurrent hyperparameters (embedding, cell, units, layers, direction,
dropouts, initializers, the optional character encoder), as KerasHub's
backbones are; `get_config` returns exactly them, and the constructor checks
them (`RecurrentBackbone.check_options` runs the same checks without building
a layer, so `kerasrnn train` refuses a bad option before reading any data).

A task's head (`kerasrnn.tasks.task_head`) puts its output layers on the
backbone's output, and the task network is a **flat** functional model from
the backbone's inputs to the head's outputs: `keras.Model(backbone.input,
head_outputs)` reuses the backbone's layers without nesting the backbone as
one layer. That is a choice, made because:

- every published `.keras` model is such a flat network of the same layers
  (`embedding`, `lstm_1`, `probabilities`, ...), so old and new models load,
  save and score alike, and the saved format does not change;
- everything that walks a network's layers (the ONNX / LiteRT export,
  `with_fast_rnn` / `with_keras_rnn`, averaged ensembles, diagnostics, the
  sentiment task's adversarial training and pretraining) finds the same
  layers under the same names, unchanged.

The backbone's config stays the record of the hyperparameters: it is the
recurrent part of a model's spec (`kerasrnn.tasks.model_spec`).
"""

import inspect
import random

import keras

from kerasrnn.layers.char_word_encoder import CharacterWordEncoder
from kerasrnn.layers.recurrent_stack import check_recurrent_stack_options, recurrent_stack
from kerasrnn.layers.word_dropout import WordDropout
from kerasrnn.validation import check_positive_int, check_rate


# Options a task's head sets (`TaskHead.backbone_options`), or only some tasks offer
# (`TaskHead.extra_options`); each of the constructor's other hyperparameters is an option of every
# task's builder (`kerasrnn.tasks.task_head.SHARED_OPTIONS`), with the constructor's default unless
# the task says otherwise (`TaskHead.defaults`).
TASK_SET_OPTIONS = (
    "vocab_size", "mask_padding", "word_dropout", "return_sequences", "stateful", "batch_size", "char_vocab_size",
    "char_embedding_dim", "char_units",
)


@keras.saving.register_keras_serializable(package="kerasrnn")
class RecurrentBackbone(keras.Model):
    """Embedded integer ids through a stack of recurrent layers.

    Inputs are word (or character) ids `(batch, time)` named `token_ids`;
    with `char_vocab_size`, also each word's character ids `(batch, time,
    characters)` named `char_ids`, and the inputs are the dict
    `{"token_ids": ..., "char_ids": ...}`. The output is the last recurrent
    layer's, after dropout: `(batch, time, features)`, or `(batch, features)`
    with `return_sequences=False`.

    Args:
        vocab_size: number of ids, padding (0) and out-of-vocabulary included.
        embedding_dim: size of each id's embedding.
        cell: `"simple_rnn"`, `"lstm"` or `"gru"`.
        units: hidden units per recurrent layer and direction.
        num_layers: how many recurrent layers to stack.
        bidirectional: read the sequence in both directions.
        dropout: dropout rate on the recurrent inputs and on the output.
        recurrent_dropout: dropout rate on the recurrent state.
        kernel_initializer: initializer of the input kernels.
        recurrent_initializer: initializer of the recurrent kernels.
        mask_padding: treat id 0 as padding, masked through every layer.
        word_dropout: while training, replace this fraction of ids by the
            unknown-word id 1 (0 = off).
        return_sequences: return every step's features, or only the last's.
        stateful: carry the recurrent state from one batch to the next.
        batch_size: the fixed batch size a stateful backbone needs.
        char_vocab_size: if set, also read each word's characters with a
            `CharacterWordEncoder` and join its vectors to the embeddings.
        char_embedding_dim: size of the character embeddings.
        char_units: units per direction of the character LSTM.
        **kwargs: Keras' `name`, `trainable` and `dtype` (not part of the config).

    Example:

    >>> import numpy as np
    >>> backbone = RecurrentBackbone(vocab_size=50, embedding_dim=8, cell="gru", units=4)
    >>> backbone.predict(np.array([[3, 4, 0]]), verbose=0).shape
    (1, 3, 4)
    >>> backbone.get_config()["cell"]
    'gru'
    """

    def __init__(self, vocab_size, embedding_dim=128, cell="lstm", units=128, num_layers=1, bidirectional=False,
                 dropout=0.0, recurrent_dropout=0.0, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", mask_padding=True, word_dropout=0.0, return_sequences=True,
                 stateful=False, batch_size=None, char_vocab_size=None, char_embedding_dim=32, char_units=64, **kwargs):
        arguments = locals()
        hyperparameters = {name: arguments[name] for name in BACKBONE_OPTIONS}
        check_backbone_options(hyperparameters)
        # === Layers, in the order (and with the names) the builders always used ===
        if stateful:
            token_ids = keras.Input(batch_shape=(batch_size, None), dtype="int32", name="token_ids")
        else:
            token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        inputs, spelling = token_ids, None
        if char_vocab_size is not None:
            char_ids = keras.Input(shape=(None, None), dtype="int32", name="char_ids")
            inputs = {"token_ids": token_ids, "char_ids": char_ids}
            spelling = CharacterWordEncoder(char_vocab_size, char_embedding_dim, char_units, name="spelling")(
                char_ids
            )
        word_ids = token_ids
        if word_dropout:
            word_ids = WordDropout(word_dropout, name="word_dropout")(token_ids)
        x = keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=mask_padding, name="embedding")(word_ids)
        if spelling is not None:
            # Concatenate keeps the embedding's padding mask for the recurrent stack.
            x = keras.layers.Concatenate(name="word_features")([x, spelling])
        x = recurrent_stack(
            x,
            cell=cell,
            units=units,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            return_sequences=return_sequences,
            stateful=stateful,
        )
        if dropout:
            x = keras.layers.Dropout(dropout, name="output_dropout")(x)
        kwargs.setdefault("name", "recurrent_backbone")
        super().__init__(inputs=inputs, outputs=x, **kwargs)
        # === Config ===
        self.hyperparameters = hyperparameters
        self.vocab_size = vocab_size
        self.cell = cell

    @classmethod
    def check_options(cls, **options):
        """Refuse a bad backbone option in one line, without building a layer (the constructor's checks).

        Args:
            **options: `RecurrentBackbone` arguments by name; the others take
                their defaults. `vocab_size` is required.

        Raises:
            ValueError: naming the first option that is wrong, or an unknown one.

        Example:

        >>> RecurrentBackbone.check_options(vocab_size=10, dropout=0.5)
        >>> RecurrentBackbone.check_options(vocab_size=10, dropout=1.5)
        Traceback (most recent call last):
        ...
        ValueError: `dropout` must be a number in [0, 1). Received: dropout=1.5
        """
        try:
            bound = inspect.signature(cls.__init__).bind(None, **options)
        except TypeError as error:
            raise ValueError(f"RecurrentBackbone: {error}") from None
        bound.apply_defaults()
        check_backbone_options({name: bound.arguments[name] for name in BACKBONE_OPTIONS})

    def get_config(self):
        """The hyperparameters the backbone was built from, exactly (JSON-ready when they were).

        Example:

        >>> sorted(RecurrentBackbone(vocab_size=10, units=4).get_config())[:3]
        ['batch_size', 'bidirectional', 'cell']
        """
        return dict(self.hyperparameters)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


# The hyperparameters with their defaults, in the constructor's order (what `get_config` returns):
# the constructor's signature is their one definition.
BACKBONE_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(RecurrentBackbone.__init__).parameters.items()
    if parameter.kind is parameter.POSITIONAL_OR_KEYWORD and name != "self"
}
BACKBONE_OPTIONS = tuple(BACKBONE_DEFAULTS)


def check_backbone_options(options):
    """The checks of `RecurrentBackbone.check_options`, on a complete set of options.

    Args:
        options: every `RecurrentBackbone` hyperparameter (`BACKBONE_OPTIONS`) by name.

    Raises:
        ValueError: naming the first option that is wrong.

    Example:

    >>> options = RecurrentBackbone(vocab_size=10, units=4).get_config()
    >>> check_backbone_options({**options, "stateful": True})
    Traceback (most recent call last):
    ...
    ValueError: `batch_size` must be a positive integer. Received: batch_size=None
    """
    if options["char_vocab_size"] is not None:
        for name in ("char_vocab_size", "char_embedding_dim", "char_units"):
            check_positive_int(name, options[name])
    check_rate("word_dropout", options["word_dropout"])
    check_positive_int("vocab_size", options["vocab_size"])
    check_positive_int("embedding_dim", options["embedding_dim"])
    # Resolving an unseeded initializer draws its seed from Python's random
    # state: checking must not move it, or a seeded build would start from
    # other weights than the same build always did.
    state = random.getstate()
    try:
        check_recurrent_stack_options(
            *(options[name] for name in ("cell", "units", "num_layers", "dropout", "recurrent_dropout")),
            options["kernel_initializer"], options["recurrent_initializer"],
        )
    finally:
        random.setstate(state)
    if options["stateful"]:
        check_positive_int("batch_size", options["batch_size"])
