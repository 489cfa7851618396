"""IMDB on the full data: seconds per epoch *and* test accuracy, keras-io recipe vs kerasrnn's recipe.

The throughput section times fixed batch lists; this one trains both models
for real on all 25,000 training reviews and scores them on the 25,000 test
reviews, so the per-epoch speed-up is read next to the accuracy it buys.
Epochs are interleaved (keras-io epoch 1, kerasrnn epoch 1, keras-io epoch 2,
...), each timed by wall clock from `on_epoch_begin` to `on_epoch_end`.
"""

import keras
import numpy as np
import tensorflow as tf

from benchmarks.measure import EpochTimer, PeakRss, median
from benchmarks.training_speed import DATA, naive_keras_io_model
from kerasrnn.data import load_imdb
from kerasrnn.data.batching import bucketed_batches
from kerasrnn.layers.fast_rnn import with_batched_input_projection
from kerasrnn.layers.standardize import standardize_review
from kerasrnn.tasks import build_sentiment_classifier
from kerasrnn.tasks.sentiment.data import review_examples
from kerasrnn.tasks.sentiment.preprocessor import SentimentPreprocessor

MAX_TOKENS, LENGTH, BATCH = 20000, 200, 32
# kerasrnn's recipe trains on batches of 128 bucketed reviews: with 64 units a
# step's matmuls are tiny, so a batch of 32 leaves the CPU waiting on per-op
# overhead; the learning rate is doubled for the 4x larger batch.
KERASRNN_BATCH = 128
KERASRNN_RECIPE = dict(cell="gru", units=64, embedding_dim=128, pooling="max", dropout=0.3, learning_rate=2e-3)
KERASRNN_NAME = "kerasrnn recipe (BiGRU-64 + batched input projection, masked max pooling, bucketed batches of 128, first 200 tokens)"


def _keras_io_data(train, test):
    """The recipe's own pipeline: default-standardized 20k vocabulary, every review padded/cut to 200."""
    vectorize = keras.layers.TextVectorization(max_tokens=MAX_TOKENS, output_sequence_length=LENGTH)
    vectorize.adapt(tf.data.Dataset.from_tensor_slices(train[0]).batch(1024))

    def encode(texts, labels, shuffle):
        dataset = tf.data.Dataset.from_tensor_slices((vectorize(tf.constant(texts)), np.asarray(labels, "float32")))
        if shuffle:
            dataset = dataset.shuffle(len(texts), seed=0)
        return dataset.batch(BATCH).prefetch(tf.data.AUTOTUNE)

    return encode(*train, shuffle=True), encode(*test, shuffle=False)


def _kerasrnn_data(train, test):
    """kerasrnn's pipeline: review standardizer, the first 200 tokens unpadded, batches bucketed by length."""
    vectorize = keras.layers.TextVectorization(max_tokens=MAX_TOKENS, standardize=standardize_review)
    vectorize.adapt(tf.data.Dataset.from_tensor_slices(train[0]).batch(1024))
    preprocessor = SentimentPreprocessor(vectorize.get_vocabulary(), max_length=LENGTH)
    train_set = review_examples(preprocessor, *train).cache()
    test_set = review_examples(preprocessor, *test).cache()
    return (bucketed_batches(train_set, KERASRNN_BATCH, shuffle_buffer=len(train[0]), seed=0),
            bucketed_batches(test_set, KERASRNN_BATCH), vectorize.vocabulary_size())





def epochs_to_accuracy(settings):
    """Train both recipes `accuracy_epochs` epochs, interleaved; return epoch times and test accuracy."""
    splits = load_imdb(f"{DATA}/aclImdb_v1_labeled.tar.gz")
    train, test = splits["train"], splits["test"]
    if settings.get("accuracy_reviews"):
        # A seeded subset (both classes), for the tiny smoke run only.
        picks = np.random.default_rng(0).permutation(len(train[0]))[: settings["accuracy_reviews"]]
        train, test = (([texts[i] for i in picks], np.asarray(labels)[picks]) for texts, labels in (train, test))
    keras.utils.set_random_seed(0)
    naive_train, naive_test = _keras_io_data(train, test)
    ours_train, ours_test, vocab = _kerasrnn_data(train, test)
    models = {
        "naive keras-io recipe (2×BiLSTM-64, padded to 200)": (naive_keras_io_model(), naive_train, naive_test),
        KERASRNN_NAME: (
            with_batched_input_projection(build_sentiment_classifier(vocab, **KERASRNN_RECIPE)), ours_train, ours_test),
    }
    timers = {name: EpochTimer() for name in models}
    rss = {name: 0 for name in models}
    for epoch in range(settings["accuracy_epochs"]):
        for name, (model, train_set, _) in models.items():
            with PeakRss() as watch:
                model.fit(train_set, epochs=epoch + 1, initial_epoch=epoch, callbacks=[timers[name]], verbose=0)
            rss[name] = max(rss[name], watch.peak)
            print(f"[benchmarks]   {name}: epoch {epoch + 1} {timers[name].seconds[-1]:.1f} s", flush=True)
    rows = []
    for name, (model, _, test_set) in models.items():
        correct = total = 0
        for ids, labels in test_set:
            probabilities = model.predict_on_batch(ids)
            predicted = (probabilities[:, 0] > 0.5) if probabilities.shape[-1] == 1 else probabilities.argmax(-1)
            correct += int(np.sum(predicted.astype("int32") == labels.numpy().astype("int32")))
            total += len(labels)
        rows.append({"variant": name, "epoch_seconds": timers[name].seconds,
                     "median_epoch_seconds": median(timers[name].seconds), "test_accuracy": correct / total,
                     "test_reviews": total, "train_reviews": len(train[0]), "epochs": settings["accuracy_epochs"],
                     "parameters": models[name][0].count_params(), "peak_rss_bytes": rss[name]})
    return rows
