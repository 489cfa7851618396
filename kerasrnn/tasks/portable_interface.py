"""`PortableInterface`: how a task's network looks from outside TensorFlow, for its ONNX and LiteRT exports.

Each task folder's `portable.py` subclasses it and names an instance `INTERFACE` (found by
`TaskDescription.portable()`), so `kerasrnn.export.portable` converts any
task's network without knowing the tasks: the names of the inputs and the
output, the padding the runtime must honour, whether the recurrent state is
carried from call to call, the preprocessing as plain JSON, and a probe batch
of in-range ids to check the converted graph against Keras.
"""

import numpy as np


class PortableInterface:
    """The defaults: `(batch, time)` word ids, right-padded with 0, no carried state.

    Attributes:
        output_name: the name of the network's output in the export.
        padding: `"right"` (a row's ids first, then 0s: ONNX's
            `sequence_lens` counts the ids) or `"none"` (every id is real).
        carries_state: the export takes and returns the recurrent states
            (a generator calls it one step at a time).

    Example:

    >>> interface = PortableInterface()
    >>> interface.padding, interface.carries_state
    ('right', False)
    """

    output_name = "outputs"
    padding = "right"
    carries_state = False

    def input_role(self, tensor):
        """The name a network input takes in the export: `"token_ids"` for `(batch, time)` ids.

        Args:
            tensor: one of the network's symbolic inputs.

        Raises:
            ValueError: an input of another rank (the message says what a portable export takes).

        Example:

        >>> import keras
        >>> PortableInterface().input_role(keras.Input(shape=(None,), dtype="int32"))
        'token_ids'
        """
        if len(tensor.shape) == 2:
            return "token_ids"
        raise ValueError(f"Cannot export the network's input {tensor.name!r} of shape {tensor.shape}: a portable "
                         "export takes (batch, time) word ids and, for a tagger, (batch, time, characters) "
                         "character ids.")

    def preprocessing(self, model):
        """The task's preprocessing as plain JSON: what `kerasrnn.portable` needs to turn text into ids and back.

        Args:
            model: the task model being exported.
        """
        raise NotImplementedError

    def probe_ids(self, model, role, real, rng):
        """In-range ids for the input `role`, 0 where `real` is False (the padding).

        Args:
            model: the task model being exported.
            role: the input's name in the export (see `input_role`).
            real: a `(rows, steps)` boolean array, True at a row's real steps.
            rng: a `numpy.random.Generator`.

        Example:

        >>> class Model:
        ...     class preprocessor:
        ...         vocabulary = ["", "[UNK]", "a", "b"]
        >>> real = np.array([[True, True, False]])
        >>> PortableInterface().probe_ids(Model, "token_ids", real, np.random.default_rng(0)).tolist()[0][2]
        0
        """
        return np.where(real, rng.integers(1, len(model.preprocessor.vocabulary), real.shape), 0)
