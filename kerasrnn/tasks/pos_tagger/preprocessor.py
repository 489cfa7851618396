"""Token lists → word ids (and character ids), tag names → tag ids, for the tagger."""

import keras
import tensorflow as tf

from kerasrnn.data.conllu import TAG_COLUMNS
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
        tag_column: which CoNLL-U column the tags come from, `"upos"` or
            `"xpos"`: `kerasrnn evaluate` scores the model on that column.

    Example:

    >>> preprocessor = PosTaggerPreprocessor(["", "[UNK]", "the", "dog"], ["DET", "NOUN"])
    >>> preprocessor(tf.constant([["the", "cat", ""]])).numpy().tolist()
    [[2, 1, 0]]
    >>> preprocessor.target_ids([["DET", "NOUN"]])
    [[0, 1]]
    """

    def __init__(self, vocabulary, tags, characters=None, tag_column="upos", **kwargs):
        super().__init__(**kwargs)
        if tag_column not in TAG_COLUMNS:
            raise ValueError(f"`tag_column` must be one of {', '.join(TAG_COLUMNS)}. Received: tag_column={tag_column!r}")
        self.tag_column = tag_column
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

    def check_network_sizes(self, embedding_input_dims, outputs):
        """Refuse a network too small for the vocabulary, or with another number of tags, in one line.

        A larger word embedding only has rows no id reaches, so it is accepted.

        Args:
            embedding_input_dims: the network's word embedding `input_dim`s (its vocab_size).
            outputs: the network's number of tags.

        Example:

        >>> PosTaggerPreprocessor(["", "[UNK]", "the"], ["DET", "NOUN"]).check_network_sizes([3], 3)
        Traceback (most recent call last):
        ...
        ValueError: The network has 3 tags but the preprocessor has 2 ['DET', 'NOUN']: build it with num_tags=len(preprocessor.tags)=2.
        """
        self.check_word_vocabulary_size(embedding_input_dims, self.vocabulary)
        if outputs != len(self.tags):
            raise ValueError(
                f"The network has {outputs} tags but the preprocessor has {len(self.tags)} {list(self.tags)}: "
                f"build it with num_tags=len(preprocessor.tags)={len(self.tags)}."
            )

    def target_ids(self, tags):
        """Tag names (or ids), one list per sentence → tag ids; an unknown tag is an error naming it."""
        return self.names_to_ids(tags, self.tags, "tag")

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary": list(self.vocabulary),
            "tags": list(self.tags),
            "characters": None if self.characters is None else list(self.characters),
            "tag_column": self.tag_column,
        }
