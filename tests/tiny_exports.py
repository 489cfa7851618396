"""Tiny models trained on the real data, shared by test_export.py and test_serving.py.

Training happens once per pytest process (functools.cache), in seconds:
the tests check plumbing (export, signatures, serving), not accuracy.
"""

import functools
import os
import tempfile

from kerasrnn.shared_data import EWT_DIR, IMDB_TARBALL, SHAKESPEARE

TRAINING = {
    "sentiment": (IMDB_TARBALL, {"units": 8, "embedding_dim": 8}, {"vocab_size": 3000, "max_length": 80}, 200),
    "pos_tagger": (EWT_DIR, {"units": 8, "embedding_dim": 8}, {}, 300),
    "char_lm": (SHAKESPEARE, {"units": 16, "num_layers": 2, "embedding_dim": 8}, {"seq_len": 50}, 100),
}
EXPORT_NAMES = {"sentiment": "imdb", "pos_tagger": "ewt", "char_lm": "shakespeare"}


@functools.cache
def trained_dir(task):
    """Train a tiny `task` model on its real data set; returns the run folder."""
    from kerasrnn.training.trainer import train

    data, builder_options, data_options, max_examples = TRAINING[task]
    out = os.path.join(tempfile.mkdtemp(prefix=f"kerasrnn-{task}-"), "run")
    train(task, data, out, builder_options, data_options, max_examples=max_examples, batch_size=32, verbose=0)
    return out


@functools.cache
def trained_model(task):
    """The task model of `trained_dir(task)`."""
    from kerasrnn.training.trainer import load_trained

    return load_trained(trained_dir(task))[0]


@functools.cache
def real_reviews(count=6):
    """The first `count` IMDB test reviews (never seen in training)."""
    from kerasrnn.data.imdb import load_imdb

    texts, _ = load_imdb(IMDB_TARBALL, splits=("test",))["test"]
    return tuple(texts[:count])


@functools.cache
def real_sentences(count=5):
    """Word lists of the first `count` sentences of the EWT test treebank."""
    from kerasrnn.data.conllu import read_conllu

    sentences = read_conllu(os.path.join(EWT_DIR, "en_ewt-ud-test.conllu"))
    return tuple(tuple(words) for words, _ in sentences[:count])


@functools.cache
def real_lines(count=4):
    """Non-empty lines from Tiny Shakespeare's held-out last 10%."""
    from kerasrnn.data.text import read_text, split_text

    _, held_out = split_text(read_text(SHAKESPEARE))
    return tuple([line for line in held_out.splitlines() if len(line) > 10][:count])


def known_prompt(model, text):
    """`text` with the characters `model` never saw dropped (a generate prompt must be known)."""
    known = set(model.preprocessor.characters)
    return "".join(character for character in text if character in known)


def padded(sentences):
    """Pad word lists with "" to the longest: the rectangular rows the REST row format needs."""
    width = max(len(words) for words in sentences)
    return [list(words) + [""] * (width - len(words)) for words in sentences]
