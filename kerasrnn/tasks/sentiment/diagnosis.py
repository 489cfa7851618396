"""The sentiment classifier in `kerasrnn diagnose`: IMDB reviews cut to `seq_len` tokens, many-to-one."""

import keras
import numpy as np
import tensorflow as tf

from kerasrnn.data import load_imdb
from kerasrnn.diagnostics.config import DiagnoseConfig  # noqa: F401 (the examples use it)
from kerasrnn.diagnostics.diagnosis_data import DiagnosisData
from kerasrnn.layers.standardize import standardize_review
from kerasrnn.tasks.sentiment.builder import build_sentiment_classifier


def diagnosis_data(path, config, vocab_size=20000):
    """Sentiment on IMDB: reviews of at least `seq_len` tokens, cut to exactly `seq_len` (no padding).

    Args:
        path: the aclImdb folder or tarball.
        config: a `DiagnoseConfig`.
        vocab_size: the vocabulary size, padding and OOV included.

    Example:

    >>> diagnosis_data("../shared/data/aclImdb_v1_labeled.tar.gz", DiagnoseConfig()).task  # doctest: +SKIP
    'sentiment'
    """
    splits = load_imdb(path, splits=("train", "test"))
    vectorizer = keras.layers.TextVectorization(
        max_tokens=vocab_size, standardize=standardize_review, output_sequence_length=config.seq_len
    )
    train_texts, train_labels = splits["train"]
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(train_texts).batch(1024))

    def long_reviews(texts, labels):
        ids = np.asarray(vectorizer(tf.constant(texts)))
        keep = np.all(ids > 0, axis=1)  # at least seq_len tokens: every step is a real word
        return ids[keep], np.asarray(labels)[keep]

    train_ids, train_y = long_reviews(train_texts, train_labels)
    test_texts, test_labels = splits["test"]
    rng = np.random.default_rng(config.seed)
    picked = rng.choice(len(test_texts), size=min(len(test_texts), 50 * config.probe_examples), replace=False)
    probe_ids, probe_y = long_reviews([test_texts[i] for i in picked], test_labels[picked])
    probe = (probe_ids[: config.probe_examples], probe_y[: config.probe_examples])
    train = (
        tf.data.Dataset.from_tensor_slices((train_ids, train_y))
        .shuffle(len(train_ids), seed=config.seed)
        .batch(config.batch_size, drop_remainder=True)
        .repeat()
    )

    vocabulary_size = vectorizer.vocabulary_size()

    def build(**options):
        # One direction, so "step 0" is the first word and the loss sits at the last.
        return build_sentiment_classifier(vocabulary_size, units=config.units, bidirectional=False, **options)

    return DiagnosisData(
        task="sentiment",
        description=f"IMDB sentiment (many-to-one), reviews cut to their first {config.seq_len} tokens "
        f"({len(train_ids)} training reviews that long)",
        build=build,
        train=train,
        probe=probe,
        flow_note="many-to-one: the loss reaches h_t only through later steps",
    )
