"""Sentiment on IMDB: data preparation, the end-to-end text model, evaluation, prediction."""

import keras
import numpy as np
import tensorflow as tf

from kerasrnn.data.batching import bucketed_batches
from kerasrnn.data.imdb import LABELS, load_imdb, split_validation
from kerasrnn.layers import LabelNames
from kerasrnn.layers.standardize import standardize_review
from kerasrnn.workflows.common import (
    PreparedData,
    as_strings,
    batched_predictions,
    inner_model,
    label_names,
)

TASK = "sentiment"


def review_dataset(vectorizer, texts, labels, max_length):
    """Vectorize reviews, keep the first `max_length` tokens, unbatched.

    Example:

    >>> import keras, numpy as np
    >>> vectorizer = keras.layers.TextVectorization(vocabulary=["good", "film"])
    >>> dataset = review_dataset(vectorizer, ["good film"], np.array([1]), max_length=1)
    >>> [ids.numpy().tolist() for ids, _ in dataset]
    [[2]]
    """
    dataset = tf.data.Dataset.from_tensor_slices((list(texts), np.asarray(labels, "int32")))

    def encode(text, label):
        ids = tf.cast(vectorizer(text), tf.int32)
        # An inference vectorizer pads to max_length; drop that padding so
        # batches are only as long as their longest review.
        ids = ids[: tf.math.count_nonzero(ids, dtype=tf.int32)]
        return ids[:max_length], label

    return dataset.map(encode, num_parallel_calls=tf.data.AUTOTUNE)


def prepare(data_path, batch_size=32, max_examples=None, seed=1337, vocab_size=20000, max_length=400):
    """Read IMDB train reviews, carve validation, adapt the vocabulary, batch by length.

    Args:
        data_path: the aclImdb folder or tarball.
        batch_size: reviews per batch.
        max_examples: train on at most this many reviews (and validate on at most as many).
        seed: the validation split and shuffle seed.
        vocab_size: the vocabulary size, padding and OOV included.
        max_length: reviews are cut to their first `max_length` tokens.

    Example:

    >>> data = prepare("../shared/data/aclImdb_v1_labeled.tar.gz", max_examples=200)
    >>> data.train_examples
    200
    """
    texts, labels = load_imdb(data_path, splits=("train",))["train"]
    (train_texts, train_labels), (val_texts, val_labels) = split_validation(texts, labels, 0.1, seed)
    if max_examples:
        train_texts, train_labels = train_texts[:max_examples], train_labels[:max_examples]
        val_texts, val_labels = val_texts[:max_examples], val_labels[:max_examples]
    vectorizer = keras.layers.TextVectorization(max_tokens=vocab_size, standardize=standardize_review)
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(train_texts).batch(1024))
    train = review_dataset(vectorizer, train_texts, train_labels, max_length).cache()
    validation = review_dataset(vectorizer, val_texts, val_labels, max_length).cache()
    return PreparedData(
        train=bucketed_batches(train, batch_size, shuffle_buffer=len(train_texts), seed=seed),
        validation=bucketed_batches(validation, batch_size),
        spec_arguments={"vocab_size": vectorizer.vocabulary_size(), "num_classes": len(LABELS)},
        vocabulary=as_strings(vectorizer.get_vocabulary()),
        labels=list(LABELS),
        train_examples=len(train_texts),
        preprocessing={"max_length": max_length},
    )


def text_model(core, vocabulary, labels, max_length=400):
    """Wrap the integer-id classifier into a model that takes raw review strings.

    The vocabulary and the label names are layers of the returned model, so
    its `.keras` file is all a user needs.

    Example:

    >>> from kerasrnn.tasks import build_sentiment_classifier
    >>> core = build_sentiment_classifier(vocab_size=4, units=4, embedding_dim=4)
    >>> model = text_model(core, ["", "[UNK]", "good", "bad"], ["neg", "pos"], max_length=8)
    >>> model.predict(tf.constant(["good film"]), verbose=0).shape
    (1, 2)
    """
    text = keras.Input(shape=(), dtype="string", name="text")
    vectorizer = keras.layers.TextVectorization(
        vocabulary=vocabulary,
        standardize=standardize_review,
        output_sequence_length=max_length,
        name="text_vectorization",
    )
    probabilities = core(vectorizer(text))
    return keras.Model(text, LabelNames(labels, name="label_names")(probabilities), name="sentiment_text_model")


def evaluate(model, data_path, batch_size=64):
    """Accuracy of an end-to-end sentiment model on IMDB's 25,000 test reviews.

    Example:

    >>> model, spec = load_trained("runs/sentiment")  # doctest: +SKIP
    >>> evaluate(model, "../shared/data/aclImdb_v1_labeled.tar.gz")["examples"]  # doctest: +SKIP
    25000
    """
    texts, labels = load_imdb(data_path, splits=("test",))["test"]
    vectorizer = model.get_layer("text_vectorization")
    dataset = bucketed_batches(
        review_dataset(vectorizer, texts, labels, vectorizer.get_config()["output_sequence_length"]), batch_size
    )
    correct = total = 0
    for _, targets, probabilities in batched_predictions(inner_model(model), dataset):
        correct += int(np.sum(np.argmax(probabilities, axis=-1) == targets))
        total += len(targets)
    return {"accuracy": correct / total, "examples": total}


def predict(model, text):
    """Classify one review; returns the label and the class probabilities.

    Example:

    >>> from kerasrnn.tasks import build_sentiment_classifier
    >>> model = text_model(build_sentiment_classifier(4, units=4), ["", "[UNK]", "good", "bad"], ["neg", "pos"])
    >>> sorted(predict(model, "A wonderful, moving film."))
    ['label', 'probabilities']
    """
    if not text.strip():
        raise ValueError("The text to classify is empty.")
    names = label_names(model)
    probabilities = model.predict(tf.constant([text]), verbose=0)[0]
    return {
        "label": names[int(np.argmax(probabilities))],
        "probabilities": {name: float(p) for name, p in zip(names, probabilities)},
    }
