"""IMDB on the full data: seconds per epoch *and* test accuracy, keras-io recipe vs `kerasrnn train sentiment`.

The throughput section times fixed batch lists; this one trains for real on
the whole training set and scores on the 25,000 test reviews, so the
per-epoch speed-up is read next to the accuracy it buys.

The kerasrnn side is exactly `kerasrnn train sentiment` with its defaults:
one call of `kerasrnn.training.train("sentiment", ...)` for all the epochs,
scored with `kerasrnn.training.evaluation.evaluate_on_data` on the saved model (what
`kerasrnn evaluate` prints). Calling `train` once per epoch would not work:
its `BackupAndRestore` callback deletes the backup when a fit ends
normally, so a second call starts again from scratch. Instead the other
recipes' epochs run from a callback at the start of each kerasrnn epoch,
before that epoch's timer starts: keras-io epoch 1, kerasrnn epoch 1,
keras-io epoch 2, ... in one process, each epoch timed separately by wall
clock. A kerasrnn epoch includes what `kerasrnn train` does in an epoch: its
validation pass and its backup checkpoint (and, in the first, tracing); the
data preparation happens before the first epoch, outside the timing.

Optionally (`accuracy_torch`), the same architecture in PyTorch trains on the
same bucketed batches, interleaved too. A PyTorch epoch of the earlier BiGRU
default was about 3× slower than Keras' on this machine, so it is off in the full mode; the
training section's same-batch throughput rows are the PyTorch comparison.
"""

import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from benchmarks.measure import EpochTimer, PeakRss, median, seconds
from benchmarks.training_speed import DATA, NAIVE_RECIPE, naive_keras_io_model

IMDB = f"{DATA}/aclImdb_v1_labeled.tar.gz"
MAX_TOKENS, LENGTH, BATCH = 20000, 200, 32
KERASRNN_NAME = "kerasrnn train sentiment defaults"
TORCH_NAME = "PyTorch, same architecture as the kerasrnn defaults, same bucketed batches"


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


class EpochsBetween(keras.callbacks.Callback):
    """Runs one epoch of every other recipe at the start of each epoch of the model being fitted.

    Put it before the fitted model's `EpochTimer` in the callback list, so
    the other recipes' epochs are outside the fitted model's timed epoch.

    Args:
        runners: `{name: run_one_epoch(epoch)}`.

    Example:

    >>> ran = []
    >>> EpochsBetween({"other": ran.append}).on_epoch_begin(0)
    >>> ran
    [0]
    """

    def __init__(self, runners):
        super().__init__()
        self.runners = runners

    def on_epoch_begin(self, epoch, logs=None):
        for run_one_epoch in self.runners.values():
            run_one_epoch(epoch)


class PeakRssPerEpoch(keras.callbacks.Callback):
    """The largest resident memory seen during the fitted model's epochs (bytes, in `.peak`).

    Example:

    >>> watch = PeakRssPerEpoch()
    >>> watch.on_epoch_begin(0); watch.on_epoch_end(0)
    >>> watch.peak > 0
    True
    """

    def __init__(self):
        super().__init__()
        self.peak, self._watch = 0, None

    def on_epoch_begin(self, epoch, logs=None):
        self._watch = PeakRss().__enter__()

    def on_epoch_end(self, epoch, logs=None):
        self._watch.__exit__(None, None, None)
        self.peak = max(self.peak, self._watch.peak)


def _keras_io_runner(train, test, timer, rss):
    model = naive_keras_io_model()

    def run_one_epoch(epoch):
        with PeakRss() as watch:
            model.fit(train, epochs=epoch + 1, initial_epoch=epoch, callbacks=[timer], verbose=0)
        rss[NAIVE_RECIPE] = max(rss.get(NAIVE_RECIPE, 0), watch.peak)
        print(f"[benchmarks]   {NAIVE_RECIPE}: epoch {epoch + 1} {timer.seconds[-1]:.1f} s", flush=True)

    return model, run_one_epoch


def _keras_io_accuracy(model, test_set):
    correct = total = 0
    for ids, labels in test_set:
        predicted = model.predict_on_batch(ids)[:, 0] > 0.5
        correct += int(np.sum(predicted.astype("int32") == labels.numpy().astype("int32")))
        total += len(labels)
    return correct / total, total


def _torch_runner(max_examples, epoch_seconds, rss):
    """The kerasrnn defaults' architecture in PyTorch on `prepare`'s batches (the same pipeline `train` uses)."""
    import torch

    from benchmarks.references import sentiment_reference
    from benchmarks.torch_models import torch_train_step

    reference = sentiment_reference(max_examples=max_examples, data_path=IMDB)
    torch.manual_seed(0)
    model = reference.torch_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=reference.learning_rate)

    def run_one_epoch(epoch):
        # The batches are taken from the pipeline before the clock starts, as `fit` prefetches them.
        batches = [(torch.from_numpy(x.numpy().astype("int64")), torch.from_numpy(y.numpy().astype("int64")))
                   for x, y in reference.data.train]

        def one_epoch():
            model.train()
            for x, y in batches:
                torch_train_step(model, optimizer, lambda m: reference.torch_loss(m(x), x, y))

        with PeakRss() as watch:
            epoch_seconds.append(seconds(one_epoch))
        rss[TORCH_NAME] = max(rss.get(TORCH_NAME, 0), watch.peak)
        print(f"[benchmarks]   {TORCH_NAME}: epoch {epoch + 1} {epoch_seconds[-1]:.1f} s", flush=True)

    def accuracy(texts, labels):
        from kerasrnn.data.length_buckets import bucketed_batches
        from kerasrnn.tasks.sentiment.data import review_examples

        preprocessor = reference.data.preprocessor
        test_set = bucketed_batches(review_examples(preprocessor, texts, labels), 128)
        model.eval()
        correct = total = 0
        with torch.no_grad():
            for ids, targets in test_set:
                predicted = model(torch.from_numpy(ids.numpy().astype("int64"))).argmax(dim=1).numpy()
                correct += int(np.sum(predicted == targets.numpy()))
                total += len(predicted)
        return correct / total, total

    return model, run_one_epoch, accuracy


def _kerasrnn_accuracy(out_dir, test_subset):
    """What `kerasrnn evaluate` prints for the saved model (on a test subset in the tiny mode)."""
    from kerasrnn.training.evaluation import evaluate_on_data
    from kerasrnn.training.trainer import load_trained

    model = load_trained(out_dir)[0]
    if test_subset is None:
        metrics = evaluate_on_data(model, IMDB)
        return metrics["accuracy"], metrics["examples"], model.count_params()
    texts, labels = test_subset
    # The call `evaluate_on_data` makes, on the smoke run's subset of the test reviews.
    metrics = model.evaluate(list(texts), np.asarray(labels, "int32"), return_dict=True, verbose=0)
    return metrics["accuracy"], len(texts), model.count_params()


def epochs_to_accuracy(settings):
    """Train the keras-io recipe and `kerasrnn train sentiment` `accuracy_epochs` epochs, interleaved.

    Args:
        settings: a benchmark mode's settings: `accuracy_epochs`; `accuracy_reviews` (a seeded subset of
            training and test reviews, for the smoke run); `accuracy_torch` (also train the PyTorch twin).

    Returns:
        One row per recipe: the seconds of each epoch, their median, test accuracy, parameters, peak RSS.

    Example:

    >>> rows = epochs_to_accuracy({"accuracy_epochs": 1, "accuracy_reviews": 300})  # doctest: +SKIP
    """
    from kerasrnn.data import load_imdb
    from kerasrnn.training.trainer import train

    epochs, subset_size = settings["accuracy_epochs"], settings.get("accuracy_reviews")
    splits = load_imdb(IMDB)
    train_split, test_split = splits["train"], splits["test"]
    test_subset = None
    if subset_size:
        # A seeded subset (both classes), for the tiny smoke run only.
        picks = np.random.default_rng(0).permutation(len(train_split[0]))[:subset_size]
        train_split, test_split = (([texts[i] for i in picks], np.asarray(labels)[picks])
                                   for texts, labels in (train_split, test_split))
        test_subset = test_split
    keras.utils.set_random_seed(0)
    naive_train, naive_test = _keras_io_data(train_split, test_split)
    timers, rss, torch_seconds = {NAIVE_RECIPE: EpochTimer(), KERASRNN_NAME: EpochTimer()}, {}, []
    naive_model, naive_epoch = _keras_io_runner(naive_train, naive_test, timers[NAIVE_RECIPE], rss)
    runners = {NAIVE_RECIPE: naive_epoch}
    if settings.get("accuracy_torch"):
        torch_model, runners[TORCH_NAME], torch_accuracy = _torch_runner(subset_size, torch_seconds, rss)
    kerasrnn_rss = PeakRssPerEpoch()
    with tempfile.TemporaryDirectory() as out_dir:
        out_dir = os.path.join(out_dir, "sentiment")
        # `kerasrnn train sentiment --data IMDB --epochs N`; the callbacks only time it.
        metrics = train("sentiment", IMDB, out_dir, epochs=epochs, max_examples=subset_size,
                        callbacks=[EpochsBetween(runners), timers[KERASRNN_NAME], kerasrnn_rss], verbose=0)
        for epoch, took in enumerate(timers[KERASRNN_NAME].seconds):
            print(f"[benchmarks]   {KERASRNN_NAME}: epoch {epoch + 1} {took:.1f} s", flush=True)
        if len(timers[KERASRNN_NAME].seconds) != epochs or metrics["epochs"] != epochs:
            raise RuntimeError(f"`train` ran {len(timers[KERASRNN_NAME].seconds)} epochs, not {epochs}.")
        accuracy, test_reviews, parameters = _kerasrnn_accuracy(out_dir, test_subset)
    rss[KERASRNN_NAME] = kerasrnn_rss.peak
    common = {"epochs": epochs, "train_reviews": len(train_split[0])}
    naive_accuracy, naive_reviews = _keras_io_accuracy(naive_model, naive_test)
    rows = [
        {"variant": NAIVE_RECIPE, "role": "keras-io", "epoch_seconds": timers[NAIVE_RECIPE].seconds,
         "test_accuracy": naive_accuracy, "test_reviews": naive_reviews, "parameters": naive_model.count_params(),
         "epoch_includes": "training steps only", **common},
        {"variant": KERASRNN_NAME, "role": "kerasrnn", "epoch_seconds": timers[KERASRNN_NAME].seconds,
         "test_accuracy": accuracy, "test_reviews": test_reviews, "parameters": parameters,
         "train_reviews": metrics["train_examples"], "epoch_includes": "training steps, the validation pass, "
         "the backup checkpoint (the first epoch also tracing)", "epochs": epochs},
    ]
    if settings.get("accuracy_torch"):
        torch_accuracy_value, torch_reviews = torch_accuracy(*test_split)
        rows.append({"variant": TORCH_NAME, "role": "PyTorch", "epoch_seconds": torch_seconds,
                     "test_accuracy": torch_accuracy_value, "test_reviews": torch_reviews,
                     "parameters": sum(p.numel() for p in torch_model.parameters()),
                     "train_reviews": metrics["train_examples"], "epoch_includes": "training steps only",
                     "epochs": epochs})
    for row in rows:
        row["median_epoch_seconds"] = median(row["epoch_seconds"])
        row["peak_rss_bytes"] = rss.get(row["variant"], 0)
    return rows
