"""Part-of-speech tagging on CoNLL-U treebanks: data, the token-string model, evaluation."""

import collections
import glob
import os

import keras
import numpy as np
import tensorflow as tf

from kerasrnn.data.batching import bucketed_batches
from kerasrnn.data.conllu import read_conllu
from kerasrnn.layers import LabelNames
from kerasrnn.layers.character_ids import CharacterIds
from kerasrnn.workflows.common import (
    PreparedData,
    batched_predictions,
    inner_model,
    label_names,
)

TASK = "pos_tagger"
PADDING, UNKNOWN = "", "[UNK]"


def find_split(data_path, split):
    """Return the `*-<split>.conllu` file named by `data_path` (a file or a folder).

    Example:

    >>> find_split("../shared/data/ud-english-ewt", "dev")
    '../shared/data/ud-english-ewt/en_ewt-ud-dev.conllu'
    """
    if os.path.isfile(data_path):
        return data_path
    matches = sorted(glob.glob(os.path.join(data_path, f"*-{split}.conllu")))
    if not matches:
        raise FileNotFoundError(f"No *-{split}.conllu file in {data_path!r}.")
    return matches[0]


def sentence_dataset(word_lookup, tags, sentences, unknown_tag_id=None, character_ids=None):
    """Turn `(words, tags)` sentences into unbatched `(inputs, tag_ids)` pairs.

    Args:
        word_lookup: a `StringLookup` from words to ids (0 = padding, 1 = OOV).
        tags: the tag names; a tag's id is its index in this list.
        sentences: `(words, tags)` pairs as `read_conllu` returns them.
        unknown_tag_id: the id of a tag not in `tags`; None makes it an error.
        character_ids: a `CharacterIds` layer; if given, the inputs are a dict
            `{"token_ids", "char_ids"}` for a tagger with a character encoder.

    Example:

    >>> import keras
    >>> words = keras.layers.StringLookup(vocabulary=["the", "dog"], mask_token="")
    >>> pairs = sentence_dataset(words, ["DET", "NOUN"], [(["the", "cat"], ["DET", "NOUN"])])
    >>> [(w.numpy().tolist(), t.numpy().tolist()) for w, t in pairs]
    [([2, 1], [0, 1])]
    """
    tag_index = {tag: index for index, tag in enumerate(tags)}
    unknown = sorted({tag for _, sentence_tags in sentences for tag in sentence_tags} - set(tag_index))
    if unknown and unknown_tag_id is None:
        raise ValueError(f"Tags {unknown} are not among the model's tags {list(tags)}.")
    words = tf.ragged.constant([words for words, _ in sentences])
    tag_ids = tf.ragged.constant(
        [[tag_index.get(tag, unknown_tag_id) for tag in sentence_tags] for _, sentence_tags in sentences],
        tf.int32,
    )

    def encode(words, tag_ids):
        # Slices of a ragged tensor arrive as ragged specs, which padded
        # batching rejects; tf.identity turns each row into a 1-D tensor.
        words, tag_ids = tf.identity(words), tf.identity(tag_ids)
        token_ids = tf.cast(word_lookup(words), tf.int32)
        if character_ids is None:
            return token_ids, tag_ids
        return {"token_ids": token_ids, "char_ids": character_ids(words)}, tag_ids

    return tf.data.Dataset.from_tensor_slices((words, tag_ids)).map(encode, num_parallel_calls=tf.data.AUTOTUNE)


def prepare(
    data_path, batch_size=32, max_examples=None, seed=1337, tag_column="upos", min_count=2, use_characters=False
):
    """Read the train and dev treebanks, build vocabularies, batch by length.

    Args:
        data_path: a folder with `*-train.conllu` and `*-dev.conllu`, or a
            train file (validated then on its last 10% of sentences).
        batch_size: sentences per batch.
        max_examples: train on at most this many sentences.
        seed: the shuffle seed.
        tag_column: `"upos"` or `"xpos"`.
        min_count: words seen fewer times in training map to `[UNK]`, so the
            model learns an embedding for words it has never seen.
        use_characters: also feed each word's characters (for a tagger built
            with `char_vocab_size`, which the spec then sets).

    Example:

    >>> data = prepare("../shared/data/ud-english-ewt", max_examples=100)
    >>> data.labels[:3]
    ['ADJ', 'ADP', 'ADV']
    """
    train_sentences = read_conllu(find_split(data_path, "train"), tag_column)
    if os.path.isdir(data_path):
        val_sentences = read_conllu(find_split(data_path, "dev"), tag_column)
    else:
        cut = int(len(train_sentences) * 0.9)
        train_sentences, val_sentences = train_sentences[:cut], train_sentences[cut:]
    if max_examples:
        train_sentences = train_sentences[:max_examples]
    counts = collections.Counter(word for words, _ in train_sentences for word in words)
    vocabulary = [PADDING, UNKNOWN] + sorted(
        (word for word, count in counts.items() if count >= min_count), key=lambda w: (-counts[w], w)
    )
    # The tag inventory comes from both sets, so that a small training subset
    # still yields a model whose validation loss is defined for every tag.
    tags = sorted({tag for _, sentence_tags in train_sentences + val_sentences for tag in sentence_tags})
    word_lookup = word_lookup_layer(vocabulary)
    spec_arguments = {"vocab_size": len(vocabulary), "num_tags": len(tags)}
    preprocessing, character_ids = {}, None
    if use_characters:
        characters = sorted({character for word in counts for character in word})
        character_ids = CharacterIds(characters)
        spec_arguments["char_vocab_size"] = len(characters) + 2  # padding and unknown
        preprocessing["characters"] = characters
    train = sentence_dataset(word_lookup, tags, train_sentences, character_ids=character_ids).cache()
    validation = sentence_dataset(word_lookup, tags, val_sentences, character_ids=character_ids).cache()
    return PreparedData(
        train=bucketed_batches(train, batch_size, shuffle_buffer=len(train_sentences), seed=seed),
        validation=bucketed_batches(validation, batch_size),
        spec_arguments=spec_arguments,
        vocabulary=vocabulary,
        labels=tags,
        train_examples=len(train_sentences),
        preprocessing=preprocessing,
    )


def word_lookup_layer(vocabulary, name=None):
    """The `StringLookup` from words to ids: "" is padding (0), unseen words are 1."""
    return keras.layers.StringLookup(vocabulary=vocabulary, mask_token=PADDING, oov_token=UNKNOWN, name=name)


def text_model(core, vocabulary, labels, characters=None):
    """Wrap the integer-id tagger into a model over padded word strings.

    Input: `(batch, time)` strings, padded with "". Output: per-token tag
    probabilities; the tag names are stored in the model's `LabelNames` layer.
    Pass `characters` for a tagger built with `char_vocab_size`: the words are
    then also split into character ids inside the model.

    Example:

    >>> from kerasrnn.tasks import build_pos_tagger
    >>> core = build_pos_tagger(vocab_size=4, num_tags=2, units=4, embedding_dim=4)
    >>> model = text_model(core, ["", "[UNK]", "the", "dog"], ["DET", "NOUN"])
    >>> model.predict(tf.constant([["the", "dog", ""]]), verbose=0).shape
    (1, 3, 2)
    """
    tokens = keras.Input(shape=(None,), dtype="string", name="tokens")
    token_ids = word_lookup_layer(vocabulary, name="word_lookup")(tokens)
    if characters is None:
        probabilities = core(token_ids)
    else:
        char_ids = CharacterIds(characters, name="character_ids")(tokens)
        probabilities = core({"token_ids": token_ids, "char_ids": char_ids})
    return keras.Model(tokens, LabelNames(labels, name="label_names")(probabilities), name="pos_tagger_text_model")


def evaluate(model, data_path, batch_size=64):
    """Tag accuracy over all tokens (punctuation included) of a CoNLL-U file.

    `data_path` is the file to score (e.g. `en_ewt-ud-test.conllu`), or a
    folder, whose `*-test.conllu` is then used. Gold tags the model does not
    know count as errors.

    Example:

    >>> from kerasrnn.tasks import build_pos_tagger
    >>> model = text_model(build_pos_tagger(3, 2, units=4), ["", "[UNK]", "the"], ["DET", "NOUN"])
    >>> result = evaluate(model, "../shared/data/ud-english-ewt/en_ewt-ud-test.conllu")
    >>> result["tokens"], result["sentences"]
    (25094, 2077)
    """
    sentences = read_conllu(find_split(data_path, "test"))
    tags = label_names(model)
    word_lookup = model.get_layer("word_lookup")
    character_ids = next((layer for layer in model.layers if isinstance(layer, CharacterIds)), None)
    # Unknown gold tags get id -1, so they can never match a prediction.
    dataset = sentence_dataset(word_lookup, tags, sentences, unknown_tag_id=-1, character_ids=character_ids)
    correct = total = 0
    for inputs, targets, probabilities in batched_predictions(inner_model(model), bucketed_batches(dataset, batch_size)):
        real = (inputs["token_ids"] if isinstance(inputs, dict) else inputs) != 0
        correct += int(np.sum((np.argmax(probabilities, axis=-1) == targets) & real))
        total += int(np.sum(real))
    return {"upos_accuracy": correct / total, "tokens": total, "sentences": len(sentences)}


def predict(model, text):
    """Tag a whitespace-tokenized sentence; returns `[(word, tag), ...]`.

    Example:

    >>> from kerasrnn.tasks import build_pos_tagger
    >>> model = text_model(build_pos_tagger(3, 2, units=4), ["", "[UNK]", "the"], ["DET", "NOUN"])
    >>> [word for word, tag in predict(model, "The dog barks .")]
    ['The', 'dog', 'barks', '.']
    """
    words = text.split()
    if not words:
        raise ValueError("The text to tag is empty.")
    tags = label_names(model)
    probabilities = model.predict(tf.constant([words]), verbose=0)[0]
    return [(word, tags[int(index)]) for word, index in zip(words, np.argmax(probabilities, axis=-1))]
