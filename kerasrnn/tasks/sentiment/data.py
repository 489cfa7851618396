"""IMDB for the sentiment classifier: training data, the test split, and raw reviews as examples."""

import keras
import numpy as np
import tensorflow as tf

from kerasrnn.data.length_buckets import bucketed_batches
from kerasrnn.data.imdb import LABELS, load_imdb, split_validation
from kerasrnn.data.input_checks import MAX_REVIEW_CHARACTERS, first_not_utf8, review_too_long
from kerasrnn.data.kinds import check_data_kind
from kerasrnn.layers.standardize import standardize_review
from kerasrnn.tasks.model_parts import PreparedData
from kerasrnn.tasks.sentiment.preprocessor import SentimentPreprocessor


def check_data_path(data_path):
    """Refuse a data set that is not IMDB's folder or archive (a text file, a treebank), in one line.

    Args:
        data_path: the `--data` path.

    Example:

    >>> check_data_path("../shared/data/ud-english-ewt")
    Traceback (most recent call last):
    ...
    ValueError: --data: '../shared/data/ud-english-ewt' is a CoNLL-U treebank (tab-separated token lines); the sentiment task reads IMDB reviews: the aclImdb folder or its tarball, such as aclImdb_v1_labeled.tar.gz.
    """
    check_data_kind(data_path, ("archive", "aclimdb"), "sentiment",
                    "IMDB reviews: the aclImdb folder or its tarball, such as aclImdb_v1_labeled.tar.gz")


def review_examples(preprocessor, texts, labels=None, max_review_characters=MAX_REVIEW_CHARACTERS):
    """Raw reviews (and labels) → an unbatched dataset of word ids (and label ids).

    Args:
        preprocessor: the classifier's `SentimentPreprocessor`.
        texts: the reviews (str or UTF-8 bytes).
        labels: their label names or ids, or None.
        max_review_characters: a longer review is refused, naming it (see
            `kerasrnn.data.input_checks`); None: no bound.

    Example:

    >>> preprocessor = SentimentPreprocessor(["", "[UNK]", "good", "film"], max_length=1)
    >>> [ids.numpy().tolist() for ids, _ in review_examples(preprocessor, ["good film"], [1])]
    [[2]]
    """
    if isinstance(texts, (str, bytes)):
        texts = [texts]
    array = np.asarray(texts, dtype=object)
    # A list of Python strings, not `.astype(str)`: a fixed-width numpy array of N reviews takes
    # N x the longest review x 4 bytes (1.3 GB for IMDB's test reviews), so one long review made it huge.
    rows = [row if isinstance(row, (str, bytes)) else str(row) for row in array.ravel().tolist()]
    if max_review_characters is not None:
        for index, row in enumerate(rows):
            if len(row) > max_review_characters:
                raise review_too_long(f"Review {index}", len(row), max_review_characters)
    try:
        texts = tf.reshape(tf.constant(rows, tf.string), array.shape)
    except ValueError:
        first_not_utf8(rows, "Review")  # says which review is not text (surrogates from undecodable bytes)
        raise
    if labels is None:
        return tf.data.Dataset.from_tensor_slices(texts).map(preprocessor, num_parallel_calls=tf.data.AUTOTUNE)
    labels = preprocessor.target_ids(labels)
    if len(labels) != len(texts):
        raise ValueError(f"Got {len(texts)} reviews but {len(labels)} labels: give one label per review.")
    dataset = tf.data.Dataset.from_tensor_slices((texts, labels))
    return dataset.map(lambda text, label: (preprocessor(text), label), num_parallel_calls=tf.data.AUTOTUNE)


def training_reviews(data_path, max_examples=None, seed=1337, max_review_characters=MAX_REVIEW_CHARACTERS):
    """The labeled training reviews `prepare` trains and validates on, split the same way.

    One definition of the split for the classifier and its language-model
    pretraining, so the pretraining never trains on the reviews that
    validate the classifier. Only the "train" split is read.

    Args:
        data_path: the aclImdb folder or tarball.
        max_examples: keep at most this many reviews of each part.
        seed: the validation split's seed.
        max_review_characters: a longer review is refused, naming its file.

    Returns:
        `(train_texts, train_labels), (validation_texts, validation_labels)`.

    Example:

    >>> (texts, labels), (held_out, _) = training_reviews("../shared/data/aclImdb_v1_labeled.tar.gz")
    >>> len(texts), len(held_out)
    (22500, 2500)
    """
    check_data_path(data_path)
    texts, labels = load_imdb(data_path, splits=("train",), max_review_characters=max_review_characters)["train"]
    (train_texts, train_labels), (val_texts, val_labels) = split_validation(texts, labels, 0.1, seed)
    if max_examples:
        train_texts, train_labels = train_texts[:max_examples], train_labels[:max_examples]
        val_texts, val_labels = val_texts[:max_examples], val_labels[:max_examples]
    return (train_texts, train_labels), (val_texts, val_labels)


def prepare(data_path, batch_size=128, max_examples=None, seed=1337, vocab_size=20000, max_length=400,
            max_review_characters=MAX_REVIEW_CHARACTERS):
    """Read IMDB train reviews, carve validation, adapt the vocabulary, batch by length.

    Args:
        data_path: the aclImdb folder or tarball.
        batch_size: reviews per batch.
        max_examples: train on at most this many reviews (and validate on at most as many).
        seed: the validation split and shuffle seed.
        vocab_size: the vocabulary size, padding and OOV included.
        max_length: reviews are cut to their first `max_length` tokens.
        max_review_characters: a longer review is refused, naming its file
            (IMDB's longest has 14,282; see `kerasrnn.data.input_checks`).

    Example:

    >>> data = prepare("../shared/data/aclImdb_v1_labeled.tar.gz", max_examples=200)
    >>> data.train_examples, data.preprocessor.labels
    (200, ['neg', 'pos'])
    """
    (train_texts, train_labels), (val_texts, val_labels) = training_reviews(
        data_path, max_examples, seed, max_review_characters
    )
    vectorizer = keras.layers.TextVectorization(max_tokens=vocab_size, standardize=standardize_review)
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(train_texts).batch(1024))
    preprocessor = SentimentPreprocessor(vectorizer.get_vocabulary(), LABELS, max_length)
    train = review_examples(preprocessor, train_texts, train_labels, max_review_characters=max_review_characters)
    validation = review_examples(preprocessor, val_texts, val_labels, max_review_characters=max_review_characters)
    train, validation = train.cache(), validation.cache()
    return PreparedData(
        train=bucketed_batches(train, batch_size, shuffle_buffer=len(train_texts), seed=seed),
        validation=bucketed_batches(validation, batch_size),
        spec_arguments={"vocab_size": len(preprocessor.vocabulary), "num_classes": len(LABELS)},
        preprocessor=preprocessor,
        train_examples=len(train_texts),
    )


def evaluation_data(data_path, max_review_characters=MAX_REVIEW_CHARACTERS):
    """IMDB's 25,000 test reviews and their labels: what `kerasrnn evaluate` scores.

    Args:
        data_path: the aclImdb folder or tarball.
        max_review_characters: a longer review is refused, naming its file.

    Returns:
        `(reviews, labels, counts)`: what `model.evaluate` takes, and how many reviews.

    Example:

    >>> texts, labels, counts = evaluation_data("../shared/data/aclImdb_v1_labeled.tar.gz")
    >>> counts, int(labels.sum())
    ({'examples': 25000}, 12500)
    """
    check_data_path(data_path)
    texts, labels = load_imdb(data_path, splits=("test",), max_review_characters=max_review_characters)["test"]
    return texts, np.asarray(labels, "int32"), {"examples": len(texts)}
