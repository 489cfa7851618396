"""The char LM in an ONNX or LiteRT export: character ids and the recurrent states in, logits and states out."""

from kerasrnn.tasks.portable_interface import PortableInterface


class CharLanguageModelPortableInterface(PortableInterface):
    """Unpadded character ids (0 is an unknown character) in, `logits` out, the states carried between calls.

    Example:

    >>> interface = CharLanguageModelPortableInterface()
    >>> interface.padding, interface.carries_state
    ('none', True)
    """

    output_name = "logits"
    padding = "none"
    carries_state = True

    def preprocessing(self, model):
        """The character vocabulary as plain JSON (see `PortableInterface.preprocessing`)."""
        return {"task": "char_lm", "characters": list(model.preprocessor.characters),
                "labels": list(model.preprocessor.labels)}

    def probe_ids(self, model, role, real, rng):
        """Any character ids at every step: a generator's input has no padding."""
        return rng.integers(0, len(model.preprocessor.labels), real.shape)


# What `TaskDescription.portable()` returns for this task.
INTERFACE = CharLanguageModelPortableInterface()
