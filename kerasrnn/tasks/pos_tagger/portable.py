"""The tagger in an ONNX or LiteRT export: word ids (and the words' character ids) in, tag scores out."""

import numpy as np

from kerasrnn.tasks.portable_interface import PortableInterface

# The probe's words: 1 to this many characters.
PROBE_WORD_LENGTH = 5


class PosTaggerPortableInterface(PortableInterface):
    """Right-padded word ids, and with a character encoder `(batch, time, characters)` ids, in; `scores` out.

    Example:

    >>> import keras
    >>> PosTaggerPortableInterface().input_role(keras.Input(shape=(None, None), dtype="int32"))
    'char_ids'
    """

    output_name = "scores"

    def input_role(self, tensor):
        """`"char_ids"` for the character encoder's `(batch, time, characters)` input, else as the default."""
        if len(tensor.shape) == 3:
            return "char_ids"
        return super().input_role(tensor)

    def preprocessing(self, model):
        """The sentence preprocessing as plain JSON (see `PortableInterface.preprocessing`)."""
        preprocessor = model.preprocessor
        character_ids = preprocessor.character_ids
        return {
            "task": "pos_tagger",
            "split": "python_str_split",  # PosTagger.predict_text's text.split()
            "tags": list(preprocessor.tags),
            "characters": None if character_ids is None else list(preprocessor.characters),
            "max_word_length": None if character_ids is None else character_ids.max_word_length,
            "vocabulary": list(preprocessor.vocabulary),
        }

    def probe_ids(self, model, role, real, rng):
        """Word ids as the default; character ids: words of 1 to 5 characters (1 = unknown), padded words all 0."""
        if role != "char_ids":
            return super().probe_ids(model, role, real, rng)
        word_lengths = np.where(real, rng.integers(1, PROBE_WORD_LENGTH + 1, real.shape), 0)
        ids = rng.integers(1, len(model.preprocessor.characters) + 2, (*real.shape, PROBE_WORD_LENGTH))
        return np.where(np.arange(PROBE_WORD_LENGTH)[None, None, :] < word_lengths[:, :, None], ids, 0)


# What `TaskDescription.portable()` returns for this task.
INTERFACE = PosTaggerPortableInterface()
