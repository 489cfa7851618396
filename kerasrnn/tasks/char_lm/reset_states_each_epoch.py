"""`ResetStatesEachEpoch`: the char LM's training hook for a stateful network (truncated BPTT across batches)."""

import keras

from kerasrnn.tasks.model_parts import reset_states


class ResetStatesEachEpoch(keras.callbacks.Callback):
    """Start every epoch and every validation pass of a stateful model from a zero state.

    A stateful char LM carries each text stream's state from one batch to
    the next; a new epoch (or the validation text) starts the streams again,
    so the state carried from the previous pass must not leak into it.
    `CharLanguageModel.training_callbacks` gives it to the trainer.

    Example:

    >>> import keras
    >>> from kerasrnn.tasks.char_lm import CharLanguageModel, CharLanguageModelPreprocessor, build_char_lm
    >>> preprocessor = CharLanguageModelPreprocessor(list("ab"), sequence_length=4)
    >>> network = build_char_lm(len(preprocessor.labels), units=4, num_layers=1, stateful=True, batch_size=2)
    >>> callback = ResetStatesEachEpoch()
    >>> callback.set_model(CharLanguageModel(network, preprocessor))
    >>> callback.on_epoch_begin(0)
    """

    def on_epoch_begin(self, epoch, logs=None):
        reset_states(self.model.network)

    def on_test_begin(self, logs=None):
        reset_states(self.model.network)
