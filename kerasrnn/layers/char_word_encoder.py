"""A character-level word encoder: each word's spelling as a vector."""

import keras
from keras import ops

from kerasrnn.layers.fast_rnn import FastLSTM
from kerasrnn.validation import check_positive_int


@keras.saving.register_keras_serializable(package="kerasrnn")
class CharacterWordEncoder(keras.layers.Layer):
    """Read each word's characters with a bidirectional LSTM; return its final states.

    Words never seen in training still get a useful vector from their
    spelling (suffixes, capitals, digits, hyphens), which is what lets a
    tagger handle rare and unknown words (Plank et al., 2016). The words of
    all sentences are folded into one batch for the LSTM and unfolded after,
    so the layer runs one recurrent loop per batch, not one per word position.

    Args:
        char_vocab_size: number of character ids, padding (0) and unknown included.
        char_embedding_dim: size of each character embedding.
        char_units: LSTM units per direction.

    Call arguments:
        char_ids: int tensor `(batch, time, characters)`, 0 = padding.

    Returns:
        A tensor `(batch, time, 2 * char_units)`, with a mask that is False
        for padded words (those with no characters).

    Example:

    >>> import numpy as np
    >>> encoder = CharacterWordEncoder(char_vocab_size=10, char_embedding_dim=4, char_units=3)
    >>> tuple(encoder(np.array([[[2, 3, 0], [0, 0, 0]]])).shape)
    (1, 2, 6)
    """

    def __init__(self, char_vocab_size, char_embedding_dim=32, char_units=64, **kwargs):
        super().__init__(**kwargs)
        self.char_vocab_size = check_positive_int("char_vocab_size", char_vocab_size)
        self.char_embedding_dim = check_positive_int("char_embedding_dim", char_embedding_dim)
        self.char_units = check_positive_int("char_units", char_units)
        self.embedding = keras.layers.Embedding(char_vocab_size, char_embedding_dim, name="char_embedding")
        # FastLSTM: Keras' LSTM (same weights, same saved paths) that runs the
        # masked words through kerasrnn's fused op on a CPU.
        self.encoder = keras.layers.Bidirectional(FastLSTM(char_units), name="char_lstm")

    def build(self, input_shape):
        self.embedding.build((None, None))
        self.encoder.build((None, None, self.char_embedding_dim))
        self.built = True

    def call(self, char_ids, training=None):
        shape = ops.shape(char_ids)
        words = ops.reshape(char_ids, (-1, shape[2]))
        vectors = self.encoder(self.embedding(words), mask=ops.not_equal(words, 0), training=training)
        return ops.reshape(vectors, (shape[0], shape[1], 2 * self.char_units))

    def compute_mask(self, char_ids, mask=None):
        # A padded word has no characters. Emitting this mask matters: Keras'
        # Concatenate ORs its inputs' masks, so an unmasked input here would
        # unmask the padding of the word embeddings it is joined with.
        return ops.any(ops.not_equal(char_ids, 0), axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], 2 * self.char_units)

    def get_config(self):
        return {
            **super().get_config(),
            "char_vocab_size": self.char_vocab_size,
            "char_embedding_dim": self.char_embedding_dim,
            "char_units": self.char_units,
        }
