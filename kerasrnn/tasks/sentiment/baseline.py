"""The sentiment baseline: a linear model over tf-idf word unigrams and bigrams, in Keras itself."""

import time

import keras
import numpy as np
import tensorflow as tf

from kerasrnn.data.imdb import load_imdb, split_validation
from kerasrnn.layers.standardize import standardize_review


def bigram_tfidf_classifier(train_texts, max_tokens=200_000):
    """`TextVectorization(ngrams=2, output_mode="tf_idf")` → `Dense(1, sigmoid)`, adapted on `train_texts`.

    Logistic regression over dense tf-idf vectors, trained with Adam.
    (`TextVectorization(..., sparse=True)` fails in Keras 3.15 for
    `output_mode="tf_idf"`: its idf lookup is a `GatherNd` that expects dense
    counts.)

    Example:

    >>> vectorizer, model = bigram_tfidf_classifier(["a good film", "a bad film"], max_tokens=20)
    >>> model.output_shape
    (None, 1)
    """
    vectorizer = keras.layers.TextVectorization(
        max_tokens=max_tokens, ngrams=2, output_mode="tf_idf", standardize=standardize_review
    )
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(list(train_texts)).batch(1024))
    features = keras.Input(shape=(vectorizer.vocabulary_size(),))
    model = keras.Model(features, keras.layers.Dense(1, activation="sigmoid")(features))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    return vectorizer, model


def tfidf_batches(vectorizer, texts, labels=None, shuffle=False, seed=1337):
    """Batches of 32 `(tf-idf rows, labels)` for the baseline's `fit`, `evaluate` or `predict`.

    Rows are vectorized batch by batch: dense tf-idf rows are too large to cache.

    Args:
        vectorizer: the adapted `TextVectorization` of `bigram_tfidf_classifier`.
        texts: the reviews.
        labels: their 0/1 labels (default: zeros, for `predict`).
        shuffle: shuffle the reviews (for training).
        seed: the shuffle seed.

    Example:

    >>> vectorizer, model = bigram_tfidf_classifier(["a good film", "a bad film"], max_tokens=20)
    >>> rows, labels = next(iter(tfidf_batches(vectorizer, ["a good film"], [1])))
    >>> rows.shape[0], labels.numpy().tolist()
    (1, [1.0])
    """
    labels = np.zeros(len(texts), "float32") if labels is None else np.asarray(labels, "float32")
    dataset = tf.data.Dataset.from_tensor_slices((list(texts), labels))
    if shuffle:
        dataset = dataset.shuffle(len(texts), seed=seed)
    return dataset.batch(32).map(lambda text, label: (vectorizer(text), label)).prefetch(tf.data.AUTOTUNE)


def measure_baseline(shared_data, epochs=5, seed=1337):
    """Train the bag-of-bigrams baseline on IMDB train (validation carved as for the zoo) and score the test reviews.

    The epoch is chosen on the validation reviews (best validation accuracy),
    never on the test set.

    Example:

    >>> measure_baseline("../shared/data")["metric"]  # doctest: +SKIP
    'accuracy'
    """
    data = load_imdb(f"{shared_data}/aclImdb_v1_labeled.tar.gz")
    (train_texts, train_labels), (val_texts, val_labels) = split_validation(*data["train"], 0.1, seed)
    keras.utils.set_random_seed(seed)
    started = time.perf_counter()
    vectorizer, model = bigram_tfidf_classifier(train_texts)

    def batches(texts, labels, shuffle=False):
        return tfidf_batches(vectorizer, texts, labels, shuffle, seed)

    best = keras.callbacks.EarlyStopping("val_accuracy", mode="max", patience=epochs, restore_best_weights=True)
    model.fit(batches(train_texts, train_labels, shuffle=True), validation_data=batches(val_texts, val_labels),
              epochs=epochs, callbacks=[best], verbose=0)
    seconds = time.perf_counter() - started
    test_texts, test_labels = data["test"]
    accuracy = model.evaluate(batches(test_texts, test_labels), return_dict=True, verbose=0)["accuracy"]
    return {
        "name": f"tf-idf unigrams + bigrams → logistic regression (Keras, {vectorizer.vocabulary_size():,} features)",
        "metric": "accuracy",
        "value": float(accuracy),
        "training_seconds": seconds,
        "best_epoch": best.best_epoch + 1,
        "command": "python -m tools.zoo baselines",
    }
