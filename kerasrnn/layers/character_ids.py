"""Words → character ids, inside the model, for character-level word encoders."""

import keras
import tensorflow as tf

PADDING, UNKNOWN = "", "[UNK]"


@keras.saving.register_keras_serializable(package="kerasrnn")
class CharacterIds(keras.layers.Layer):
    """Split each word into characters and look them up: 0 is padding, 1 unknown.

    Words are cut to their first `max_word_length` characters, and the
    character axis is padded to the longest word of the batch. The empty
    string (a padded word) gives a row of zeros. Keeping this in a layer
    means a saved tagger carries its character vocabulary and splits words
    the same way in training, in `model.predict` and in a SavedModel.

    Args:
        characters: the character vocabulary (without padding or unknown).
        max_word_length: characters kept per word.

    Example:

    >>> layer = CharacterIds(["a", "b", "c"])
    >>> layer(tf.constant([["ab", "cz", ""]])).numpy().tolist()
    [[[2, 3], [4, 1], [0, 0]]]
    """

    def __init__(self, characters, max_word_length=20, **kwargs):
        super().__init__(**kwargs)
        self.characters = [str(character) for character in characters]
        self.max_word_length = int(max_word_length)
        self.lookup = keras.layers.StringLookup(vocabulary=self.characters, mask_token=PADDING, oov_token=UNKNOWN)

    def build(self, input_shape):
        # The lookup table is built from the vocabulary in __init__; there are no weights.
        self.built = True

    def call(self, words):
        characters = tf.strings.unicode_split(words, "UTF-8")[..., : self.max_word_length]
        return tf.cast(self.lookup(characters).to_tensor(default_value=0), "int32")

    def compute_output_shape(self, input_shape):
        return (*input_shape, None)

    def compute_output_spec(self, words):
        return keras.KerasTensor((*words.shape, None), dtype="int32")

    def get_config(self):
        return {**super().get_config(), "characters": list(self.characters), "max_word_length": self.max_word_length}
