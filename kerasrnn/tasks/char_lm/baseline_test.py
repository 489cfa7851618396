"""The character n-gram baseline is a proper distribution and beats the unigram model on Tiny Shakespeare."""

import math

import pytest

from kerasrnn.data.text import read_text, split_text
from kerasrnn.shared_data import SHAKESPEARE
from kerasrnn.tasks.char_lm.baseline import CharacterNGramModel


@pytest.fixture(scope="module")
def texts():
    train, validation = split_text(read_text(SHAKESPEARE))
    return train[:200_000], validation[:20_000]


def test_probabilities_sum_to_one_over_the_vocabulary_and_the_unknown_class(texts):
    train, _ = texts
    model = CharacterNGramModel(train, order=4)
    characters = sorted(set(train))
    for history in ("ROMEO:\n", "the ", "zqx", ""):
        total = sum(model.probability(history, character) for character in characters)
        total += model.probability(history, "\u2603")  # any character never seen stands for the unknown class
        assert total == pytest.approx(1.0, abs=1e-9), history


def test_longer_context_predicts_held_out_text_better(texts):
    train, validation = texts
    unigram = CharacterNGramModel(train, order=1).nats_per_character(validation)
    five_gram = CharacterNGramModel(train, order=5).nats_per_character(validation)
    assert unigram == pytest.approx(3.3, abs=0.15)  # the context-free entropy of English text, ~3.3 nats
    assert five_gram < unigram - 1.0 and math.isfinite(five_gram)
