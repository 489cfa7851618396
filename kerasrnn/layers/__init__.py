"""Layers and layer stacks shared by the task builders.

Importing this package registers every custom kerasrnn layer with Keras, which
loading a saved kerasrnn model needs (see `kerasrnn.zoo.load`).
"""

from kerasrnn.layers.char_word_encoder import CharacterWordEncoder
from kerasrnn.layers.character_ids import CharacterIds
from kerasrnn.layers.fast_rnn import (FastGRU, FastLSTM, FastSimpleRNN, with_fast_lstm, with_fast_rnn,
                                      with_keras_lstm, with_keras_rnn)
from kerasrnn.layers.masked_max_pooling import MaskedGlobalMaxPooling1D
from kerasrnn.layers.recurrent_stack import CELLS, recurrent_stack, resolve_initializer
from kerasrnn.layers.sampled_language_model_loss import SampledLanguageModelLoss
from kerasrnn.layers.standardize import standardize_review
from kerasrnn.layers.word_dropout import WordDropout

__all__ = [
    "CELLS",
    "CharacterIds",
    "CharacterWordEncoder",
    "FastGRU",
    "FastLSTM",
    "FastSimpleRNN",
    "MaskedGlobalMaxPooling1D",
    "recurrent_stack",
    "SampledLanguageModelLoss",
    "resolve_initializer",
    "standardize_review",
    "WordDropout",
    "with_fast_lstm",
    "with_fast_rnn",
    "with_keras_lstm",
    "with_keras_rnn",
]
