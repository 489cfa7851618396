"""Token lists → word ids (and character ids), tag names → tag ids, for the tagger."""

import keras
import tensorflow as tf

from kerasrnn.layers.character_ids import CharacterIds
from kerasrnn.tasks.model_parts import as_strings
from kerasrnn.tasks.preprocessor import Preprocessor

PADDING, UNKNOWN = "", "[UNK]"


@keras.saving.register_keras_serializable(package="kerasrnn")
class PosTaggerPreprocessor(Preprocessor):
    """Turn padded word strings into word ids (and, optionally, each word's character ids).

    Input: `(..., time)` strings padded with `""`; `""` becomes id 0
    (padding, masked) and a word outside the vocabulary id 1 (`[UNK]`).

    Args:
        vocabulary: the words, `""` and `"[UNK]"` first.
        tags: the tag names; a tag's id is its index here.
        characters: the character vocabulary of a tagger built with
            `char_vocab_size`; the output is then a dict
            `{"token_ids", "char_ids"}`.

    Example:

    >>> preprocessor = PosTaggerPreprocessor(["", "[UNK]", "the", "dog"], ["DET", "NOUN"])
    >>> preprocessor(tf.constant([["the", "cat", ""]])).numpy().tolist()
    [[2, 1, 0]]
    >>> preprocessor.target_ids([["DET", "NOUN"]])
    [[0, 1]]
    """

    def __init__(self, vocabulary, tags, characters=None, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary = as_strings(vocabulary)
        self.tags = as_strings(tags)
        self.characters = None if characters is None else as_strings(characters)
        self.word_lookup = keras.layers.StringLookup(
            vocabulary=self.vocabulary, mask_token=PADDING, oov_token=UNKNOWN, name="word_lookup"
        )
        self.character_ids = None if characters is None else CharacterIds(self.characters, name="character_ids")

    @property
    def labels(self):
        """The output class names: the tags."""
        return self.tags

    def call(self, tokens):
        token_ids = tf.cast(self.word_lookup(tokens), tf.int32)
        if self.character_ids is None:
            return token_ids
        return {"token_ids": token_ids, "char_ids": self.character_ids(tokens)}

    def target_ids(self, tags):
        """Tag names (or ids), one list per sentence → tag ids; an unknown tag is an error naming it."""
        return self.names_to_ids(tags, self.tags, "tag")

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary": list(self.vocabulary),
            "tags": list(self.tags),
            "characters": None if self.characters is None else list(self.characters),
        }
