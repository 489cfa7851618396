"""Characters → character ids for the character language model."""

import keras
import numpy as np
import tensorflow as tf

from kerasrnn.tasks.model_parts import as_strings
from kerasrnn.tasks.preprocessor import Preprocessor
from kerasrnn.validation import check_positive_int

UNKNOWN = "[UNK]"


@keras.saving.register_keras_serializable(package="kerasrnn")
class CharLanguageModelPreprocessor(Preprocessor):
    """Map single-character strings to ids: a character never seen is 0, the others 1..V.

    The char LM's ids differ from the word models' (0 = padding, 1 =
    out-of-vocabulary): there is no padding, id 0 is any character not in
    `characters` (`"[UNK]"`) and ids 1..V are `characters` in order, so the
    network's `vocab_size` is `len(characters) + 1` (`len(labels)`). The
    published models depend on these ids.

    Input: `(..., time)` strings of one character each (`encode` splits
    whole texts). The output classes of the model are the same ids, so
    `labels` is `["[UNK]"] + characters`.

    Args:
        characters: the training text's characters, sorted.
        sequence_length: characters per window when `fit` or `evaluate`
            cut a raw text into truncated-BPTT windows.

    Example:

    >>> preprocessor = CharLanguageModelPreprocessor(["a", "b"])
    >>> preprocessor(tf.constant([["a", "b", "z"]])).numpy().tolist()
    [[1, 2, 0]]
    >>> preprocessor.encode("abz").tolist()
    [1, 2, 0]
    """

    def __init__(self, characters, sequence_length=100, **kwargs):
        super().__init__(**kwargs)
        self.characters = as_strings(characters)
        self.sequence_length = check_positive_int("sequence_length", sequence_length)
        self.lookup = keras.layers.StringLookup(
            vocabulary=self.characters, mask_token=None, num_oov_indices=1, oov_token=UNKNOWN, name="char_lookup"
        )

    @property
    def labels(self):
        """The name of every output class: `[UNK]`, then the characters."""
        return [UNKNOWN] + self.characters

    def call(self, characters):
        return tf.cast(self.lookup(characters), tf.int32)

    def encode(self, text):
        """A whole string → a 1-D int32 array of character ids."""
        return np.asarray(self(tf.strings.unicode_split(text, "UTF-8")), dtype="int32")

    def check_network_sizes(self, embedding_input_dims, outputs):
        """Refuse a network whose vocab_size is not `len(characters) + 1`, in one line naming both.

        `CharLanguageModel` calls it when it is made, so a mismatch does not
        first show up in `generate` as a shape error.

        Args:
            embedding_input_dims: the network's embedding `input_dim`s.
            outputs: the network's output size (its logits per step).

        Example:

        >>> CharLanguageModelPreprocessor(["a", "b"]).check_network_sizes([4], 4)
        Traceback (most recent call last):
        ...
        ValueError: The network's vocab_size is 4 but the preprocessor's is 3 (2 characters as ids 1..2, and id 0 for an unknown character; no padding id): build it with vocab_size=len(preprocessor.labels)=3.
        """
        expected = len(self.labels)
        for size in (*embedding_input_dims, outputs):
            if size != expected:
                raise ValueError(
                    f"The network's vocab_size is {size} but the preprocessor's is {expected} "
                    f"({len(self.characters)} characters as ids 1..{len(self.characters)}, and id 0 for an unknown "
                    f"character; no padding id): build it with vocab_size=len(preprocessor.labels)={expected}."
                )

    def target_ids(self, characters):
        return self(characters) if isinstance(characters, tf.Tensor) and characters.dtype == tf.string else characters

    def get_config(self):
        return {**super().get_config(), "characters": list(self.characters), "sequence_length": self.sequence_length}
