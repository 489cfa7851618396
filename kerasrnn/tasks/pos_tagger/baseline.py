"""The tagger's baseline: each word's most frequent training tag (unknown words: the most frequent tag)."""

import collections
import os
import time

from kerasrnn.data.conllu import read_conllu
from kerasrnn.tasks.pos_tagger.data import find_split


def most_frequent_tag_accuracy(train_sentences, test_sentences):
    """Token accuracy of tagging every word with its most frequent tag in training.

    Args:
        train_sentences: `(words, tags)` pairs to count from.
        test_sentences: `(words, tags)` pairs to score, every token counted.

    Example:

    >>> train = [(["the", "dog", "barks"], ["DET", "NOUN", "VERB"]), (["dogs", "bark"], ["NOUN", "VERB"])]
    >>> most_frequent_tag_accuracy(train, [(["the", "cat"], ["DET", "NOUN"])])  # "cat" is unseen: NOUN
    1.0
    """
    by_word = collections.defaultdict(collections.Counter)
    for words, tags in train_sentences:
        for word, tag in zip(words, tags):
            by_word[word][tag] += 1
    overall = collections.Counter(tag for _, tags in train_sentences for tag in tags).most_common(1)[0][0]
    best = {word: counts.most_common(1)[0][0] for word, counts in by_word.items()}
    pairs = [(word, tag) for words, tags in test_sentences for word, tag in zip(words, tags)]
    return sum(best.get(word, overall) == tag for word, tag in pairs) / len(pairs)


def measure_baseline(shared_data):
    """The most-frequent-tag baseline on EWT: trained on train, scored on all test tokens.

    Example:

    >>> result = measure_baseline("../shared/data")
    >>> result["metric"], round(result["value"], 4) > 0.8
    ('accuracy', True)
    """
    folder = os.path.join(shared_data, "ud-english-ewt")
    started = time.perf_counter()
    value = most_frequent_tag_accuracy(read_conllu(find_split(folder, "train")), read_conllu(find_split(folder, "test")))
    return {
        "name": "most frequent tag per word",
        "metric": "accuracy",
        "value": value,
        "training_seconds": time.perf_counter() - started,
        "command": "python -m tools.zoo baselines",
    }
