"""The char LM's baseline: an interpolated character n-gram model (Witten-Bell smoothing)."""

import collections
import math
import time

from kerasrnn.data.text import read_text, split_text
from kerasrnn.validation import check_positive_int


class CharacterNGramModel:
    """Character n-gram probabilities, interpolated across orders with Witten-Bell smoothing.

    P(c | h) = λ(h) · P_ML(c | h) + (1 − λ(h)) · P(c | h[1:]), with
    λ(h) = N(h) / (N(h) + T(h)) (N: count of h, T: distinct characters seen
    after h), down to a uniform distribution over the training characters
    plus one unknown class. Every probability is positive, so the
    cross-entropy of any text is finite.

    Args:
        text: the training text.
        order: the longest history plus one (5 = four characters of context).

    Example:

    >>> model = CharacterNGramModel("abababab", order=3)
    >>> round(model.probability("ab", "a"), 3) > 0.5
    True
    """

    def __init__(self, text, order=5):
        self.order = check_positive_int("order", order)
        self.vocabulary_size = len(set(text)) + 1  # the unknown character
        self.counts = collections.defaultdict(collections.Counter)  # history -> next-character counts
        for n in range(order):
            for position in range(n, len(text)):
                self.counts[text[position - n : position]][text[position]] += 1
        self.totals = {history: sum(counter.values()) for history, counter in self.counts.items()}

    def probability(self, history, character):
        """P(character | history), using the last `order - 1` characters of `history`."""
        probability = 1.0 / self.vocabulary_size
        history = history[-(self.order - 1):] if self.order > 1 else ""
        for n in range(0, len(history) + 1):
            context = history[len(history) - n:]
            counter = self.counts.get(context)
            if counter is None:
                break
            total, distinct = self.totals[context], len(counter)
            weight = total / (total + distinct)
            probability = weight * counter.get(character, 0) / total + (1 - weight) * probability
        return probability

    def nats_per_character(self, text, context=""):
        """Mean −log P of each character of `text` given the characters before it (and `context`)."""
        full = context + text
        total = 0.0
        for position in range(len(context), len(full)):
            total -= math.log(self.probability(full[max(0, position - self.order + 1): position], full[position]))
        return total / len(text)


def measure_baseline(shared_data, order=5):
    """An interpolated 5-gram on Tiny Shakespeare: first 90% trains, the last 10% is scored.

    Example:

    >>> measure_baseline("../shared/data")["metric"]  # doctest: +SKIP
    'nats_per_char'
    """
    train, validation = split_text(read_text(f"{shared_data}/tinyshakespeare/input.txt"))
    started = time.perf_counter()
    model = CharacterNGramModel(train, order)
    value = model.nats_per_character(validation[1:], context=validation[:1])
    return {
        "name": f"interpolated character {order}-gram (Witten-Bell)",
        "metric": "nats_per_char",
        "value": value,
        "training_seconds": time.perf_counter() - started,
        "command": "python -m tools.zoo baselines",
    }
