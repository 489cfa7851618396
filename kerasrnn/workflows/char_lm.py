"""Character language modelling on plain text: TBPTT data, evaluation, sampling."""

import math

import keras
import numpy as np
import tensorflow as tf

from kerasrnn.data.text import read_text, split_text, tbptt_dataset
from kerasrnn.layers import LabelNames
from kerasrnn.validation import check_positive_int
from kerasrnn.workflows.common import PreparedData, inner_model, label_names

TASK = "char_lm"
UNKNOWN = "[UNK]"


def char_lookup_layer(characters, name=None):
    """The `StringLookup` from characters to ids: unseen characters are 0, the rest 1..V."""
    return keras.layers.StringLookup(
        vocabulary=characters, mask_token=None, num_oov_indices=1, oov_token=UNKNOWN, name=name
    )


def encode(lookup, text):
    """Map a string to a 1-D int32 array of character ids.

    Example:

    >>> encode(char_lookup_layer(["a", "b"]), "abz").tolist()
    [1, 2, 0]
    """
    return np.asarray(lookup(tf.strings.unicode_split(text, "UTF-8")), dtype="int32")


def prepare(data_path, batch_size=64, max_examples=None, seed=1337, seq_len=100, stateful=False):
    """Read a text file, split it 90/10 by position and cut it into TBPTT windows.

    Args:
        data_path: a UTF-8 text file such as Tiny Shakespeare's `input.txt`.
        batch_size: the number of parallel streams.
        max_examples: train on at most this many windows of `seq_len` characters.
        seed: the shuffle seed (windows are shuffled only when not stateful).
        seq_len: characters per window (the truncation length of BPTT).
        stateful: carry the state across windows; the spec then fixes `batch_size`.

    Example:

    >>> data = prepare("../shared/data/tinyshakespeare/input.txt")
    >>> data.spec_arguments
    {'vocab_size': 66}
    """
    train_text, val_text = split_text(read_text(data_path))
    if max_examples:
        train_text = train_text[: max_examples * seq_len + 1]
        val_text = val_text[: max_examples * seq_len + 1]
    characters = sorted(set(train_text))
    lookup = char_lookup_layer(characters)
    train = tbptt_dataset(encode(lookup, train_text), batch_size, seq_len)
    if not stateful:
        # Without carried state the windows are independent, so their order may change.
        train = train.shuffle(len(train), seed=seed, reshuffle_each_iteration=True)
    validation = tbptt_dataset(encode(lookup, val_text), batch_size, seq_len)
    spec_arguments = {"vocab_size": len(characters) + 1}
    if stateful:
        spec_arguments.update(stateful=True, batch_size=batch_size)
    return PreparedData(
        train=train.prefetch(tf.data.AUTOTUNE),
        validation=validation.prefetch(tf.data.AUTOTUNE),
        spec_arguments=spec_arguments,
        vocabulary=characters,
        labels=[UNKNOWN] + characters,
        train_examples=len(train_text),
    )


def stateful_copy(core, batch_size):
    """Rebuild an integer-id char LM with stateful layers and a fixed batch size.

    The copy shares nothing with `core` but its weights, so feeding it one
    character at a time continues from the state the previous call left.
    `batch_size=None` gives back a stateless copy (used after stateful training).

    Example:

    >>> from kerasrnn.tasks import build_char_lm
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


class ResetStatesEachEpoch(keras.callbacks.Callback):
    """Start every epoch and every validation pass from a zero state.

    Example:

    >>> callback = ResetStatesEachEpoch()
    """

    def on_epoch_begin(self, epoch, logs=None):
        reset_states(self.model)

    def on_test_begin(self, logs=None):
        reset_states(self.model)


def text_model(core, vocabulary, labels):
    """Wrap the integer-id LM into a model over `(batch, time)` character strings.

    The output is the next-character logits at every step; the characters are
    stored in the model's `LabelNames` layer (index 0 is `[UNK]`).

    Example:

    >>> from kerasrnn.tasks import build_char_lm
    >>> core = build_char_lm(vocab_size=3, units=4, num_layers=1)
    >>> model = text_model(core, ["a", "b"], ["[UNK]", "a", "b"])
    >>> model.predict(tf.constant([["a", "b"]]), verbose=0).shape
    (1, 2, 3)
    """
    if any(getattr(layer, "stateful", False) for layer in core.layers):
        core = stateful_copy(core, None)
    characters = keras.Input(shape=(None,), dtype="string", name="characters")
    logits = core(char_lookup_layer(vocabulary, name="char_lookup")(characters))
    return keras.Model(characters, LabelNames(labels, name="label_names")(logits), name="char_lm_text_model")


def evaluate(model, data_path, streams=8, seq_len=512):
    """Cross-entropy of the next character on the last 10% of a text file.

    The validation text is cut into `streams` contiguous streams read with the
    state carried across windows, so every scored character is predicted from
    all the text before it in its stream.

    Example:

    >>> from kerasrnn.tasks import build_char_lm
    >>> characters = sorted(set(read_text("../shared/data/tinyshakespeare/input.txt")))
    >>> model = text_model(build_char_lm(len(characters) + 1, units=8, num_layers=1),
    ...                    characters, [UNKNOWN] + characters)
    >>> sorted(evaluate(model, "../shared/data/tinyshakespeare/input.txt"))
    ['bits_per_char', 'characters', 'nats_per_char']
    """
    _, val_text = split_text(read_text(data_path))
    ids = encode(model.get_layer("char_lookup"), val_text)
    stepper = stateful_copy(inner_model(model), streams)
    forward = tf.function(lambda window: stepper(window, training=False))
    total_nats = 0.0
    count = 0
    for inputs, targets in tbptt_dataset(ids, streams, seq_len):
        logits = forward(inputs)
        nats = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
        total_nats += float(tf.reduce_sum(tf.cast(nats, tf.float64)))
        count += int(tf.size(targets))
    nats_per_char = total_nats / count
    return {"nats_per_char": nats_per_char, "bits_per_char": nats_per_char / math.log(2), "characters": count}


def generate(model, prompt, length=300, temperature=1.0, seed=None):
    """Sample `length` characters after `prompt`, one at a time, with temperature.

    Args:
        model: an end-to-end char LM (as `kerasrnn train char-lm` saves it).
        prompt: the text to continue; every character must be in the vocabulary.
        length: how many characters to add.
        temperature: > 0; below 1 is more conservative, above 1 more random.
        seed: the sampling seed, for reproducible text.

    Returns:
        The prompt followed by the generated characters.

    Example:

    >>> from kerasrnn.tasks import build_char_lm
    >>> model = text_model(build_char_lm(4, units=8, num_layers=1), list("ROM"), ["[UNK]", "R", "O", "M"])
    >>> text = generate(model, "ROM", length=5, temperature=0.8, seed=1)
    >>> len(text), set(text) <= set("ROM")
    (8, True)
    """
    length = check_positive_int("length", length)
    if not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"`temperature` must be a number > 0. Received: temperature={temperature!r}")
    if not prompt:
        raise ValueError("`prompt` is empty: give at least one character to start from.")
    characters = label_names(model)
    known = set(characters[1:])
    unknown = sorted(set(prompt) - known)
    if unknown:
        raise ValueError(f"`prompt` has characters the model never saw: {unknown}")
    stepper = stateful_copy(inner_model(model), 1)
    forward = tf.function(lambda ids: stepper(ids, training=False)[:, -1, :], reduce_retracing=True)
    rng = np.random.default_rng(seed)
    logits = np.asarray(forward(encode(model.get_layer("char_lookup"), prompt)[None, :]))[0]
    generated = []
    for _ in range(length):
        scaled = logits.astype("float64") / temperature
        scaled[0] = -np.inf  # never emit the unknown-character class
        probabilities = np.exp(scaled - scaled.max())
        index = int(rng.choice(len(probabilities), p=probabilities / probabilities.sum()))
        generated.append(characters[index])
        logits = np.asarray(forward(np.array([[index]], "int32")))[0]
    return prompt + "".join(generated)
