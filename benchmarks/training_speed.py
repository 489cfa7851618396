"""Training throughput of each task's reference model: kerasrnn vs PyTorch vs the naive Keras recipe.

Every variant trains on the same list of real batches (for the naive recipe:
its own real batches, padded to 200 tokens as the keras-io example does).
One warm-up pass over the list (tracing, XLA compiles, allocator) is not
timed; then each repetition times one pass over the whole list, variants
interleaved A B C A B C.
"""

import keras
import numpy as np
import tensorflow as tf
import torch

from benchmarks.measure import PeakRss, interleaved, median, seconds
from benchmarks.peak import rnn_flops_per_token
from benchmarks.references import DATA, keras_io_reference, reference_for
from benchmarks.torch_models import torch_training_pass
from kerasrnn.layers.fast_rnn import FastLSTM, with_batched_input_projection


def _keras_variant(model, batches, jit_compile=False, fast=False, fused=False):
    if fast:
        model = with_batched_input_projection(model)
        # FastLSTM runs kerasrnn's fused C++ op when it can; the "+ FastLSTM"
        # rows keep measuring the Keras loop, the "fused" row the op.
        for layer in _recurrent_layers(model):
            layer.use_fused_kernel = fused
    if jit_compile:
        model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"], jit_compile=True)

    def one_pass():
        for x, y in batches:
            model.train_on_batch(x, y)

    return one_pass


def _recurrent_layers(model):
    for layer in model.layers:
        if isinstance(layer, FastLSTM):
            yield layer
        for child in (getattr(layer, "forward_layer", None), getattr(layer, "backward_layer", None)):
            if isinstance(child, FastLSTM):
                yield child


def _fused_kernel_variant(build, batches):
    """The "fused LSTM kernel" row, or None (and why, printed) when the op cannot be built here."""
    from kerasrnn.kernels import load_lstm_ops, unavailable_reason

    if load_lstm_ops() is None:
        print(f"skipping the fused LSTM kernel row: {unavailable_reason()}")
        return None
    return _keras_variant(build(), batches, fast=True, fused=True)


def _measure(task, variants, batches_by_variant, repetitions, flops_by_variant):
    """Warm up, then time interleaved passes; returns one row per variant."""
    for one_pass in variants.values():
        one_pass()
    rss = {}

    def run_once(name):
        with PeakRss() as watch:
            elapsed = seconds(variants[name])
        rss[name] = max(rss.get(name, 0), watch.peak)
        return elapsed

    times = interleaved(list(variants), repetitions, run_once)
    rows = []
    for name, values in times.items():
        batches = batches_by_variant[name]
        padded = sum(x.size for x, _ in batches)
        real = sum(int(np.count_nonzero(x)) for x, _ in batches)
        rows.append({
            "task": task, "variant": name, "seconds_per_pass": values,
            "padded_tokens_per_s": [padded / t for t in values],
            "real_tokens_per_s": [real / t for t in values],
            "median_real_tokens_per_s": median([real / t for t in values]),
            "median_padded_tokens_per_s": median([padded / t for t in values]),
            "forward_flops_per_token": flops_by_variant[name],
            "peak_rss_bytes": rss[name], "batches": len(batches),
            "batch_shapes": sorted({tuple(x.shape) for x, _ in batches}),
        })
    return rows


def char_lm(settings):
    """Tiny Shakespeare, 2-layer LSTM char LM, batch 64 x 100 characters (TBPTT windows)."""
    reference = reference_for("char_lm", settings)
    data, units = reference.data, settings["char_units"]
    batches = [(x.numpy(), y.numpy()) for x, y in data.train.take(settings["batches"])]
    vocab = data.spec_arguments["vocab_size"]
    build = reference.keras_model

    torch.manual_seed(0)
    variants = {
        "kerasrnn (Keras LSTM layers)": _keras_variant(build(), batches),
        "kerasrnn + FastLSTM": _keras_variant(build(), batches, fast=True),
        "kerasrnn + FastLSTM + XLA (jit_compile)": _keras_variant(build(), batches, fast=True, jit_compile=True),
        "kerasrnn + fused LSTM kernel": _fused_kernel_variant(build, batches),
        "PyTorch 2-layer nn.LSTM": torch_training_pass(reference, batches),
        "PyTorch 2-layer nn.LSTM, oneDNN off": torch_training_pass(reference, batches, onednn=False),
    }
    variants = {name: one_pass for name, one_pass in variants.items() if one_pass is not None}
    flops = rnn_flops_per_token("lstm", 64, units) + rnn_flops_per_token("lstm", units, units) + 2 * units * vocab
    rows = _measure("char_lm", variants, {name: batches for name in variants}, settings["repetitions"],
                    {name: flops for name in variants})
    for row in rows:
        row["epoch_tokens"] = data.train_examples
        row["architecture"] = reference.architecture
    return rows


def _naive_recipe_batches(settings):
    """The keras-io recipe's own data: 20k-word TextVectorization, every review padded/cut to 200."""
    from kerasrnn.data import load_imdb

    texts, labels = load_imdb(f"{DATA}/aclImdb_v1_labeled.tar.gz", splits=("train",))["train"]
    order = np.random.default_rng(0).permutation(len(texts))
    sample = order[: settings["adapt_reviews"]]
    vectorize = keras.layers.TextVectorization(max_tokens=20000, output_sequence_length=200)
    vectorize.adapt(tf.constant([texts[i] for i in sample]))
    picked = order[: 32 * settings["batches"]]
    ids = vectorize(tf.constant([texts[i] for i in picked])).numpy().astype("int32")
    y = np.asarray(labels)[picked].astype("int32")
    return [(ids[i : i + 32], y[i : i + 32]) for i in range(0, len(ids), 32)], len(texts)


def naive_keras_io_model():
    """keras-io "Bidirectional LSTM on IMDB": Embedding 128 → BiLSTM 64 (seq) → BiLSTM 64 → Dense 1.

    Example:

    >>> naive_keras_io_model().count_params()
    2757761
    """
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(20000, 128)(inputs)
    x = keras.layers.Bidirectional(keras.layers.LSTM(64, return_sequences=True))(x)
    x = keras.layers.Bidirectional(keras.layers.LSTM(64))(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


LARGE_BATCH = 128
LARGE_BATCH_VARIANT = f"kerasrnn BiLSTM-64, bucketed + FastLSTM, batches of {LARGE_BATCH} (same reviews)"


def _rebatched_by_length(batches, batch_size):
    """The reviews of `batches`, sorted by length and re-padded into batches of `batch_size`.

    Example:

    >>> x = np.array([[5, 6, 0], [7, 0, 0]]), np.array([[8, 9, 4]])
    >>> [b[0].tolist() for b in _rebatched_by_length([(x[0], np.array([1, 0])), (x[1], np.array([1]))], 2)]
    [[[7, 0], [5, 6]], [[8, 9, 4]]]
    """
    reviews = [(ids[: np.count_nonzero(ids)], label) for x, y in batches for ids, label in zip(x, y)]
    reviews.sort(key=lambda review: len(review[0]))
    rebatched = []
    for start in range(0, len(reviews), batch_size):
        chunk = reviews[start : start + batch_size]
        ids = keras.utils.pad_sequences([r[0] for r in chunk], padding="post", dtype="int32")
        rebatched.append((ids, np.asarray([r[1] for r in chunk])))
    return rebatched


def sentiment(settings):
    """IMDB: kerasrnn's reference BiLSTM-64 on length-bucketed batches vs PyTorch vs the keras-io recipe."""
    reference = reference_for("sentiment", settings)
    data = reference.data
    batches = [(x.numpy(), y.numpy()) for x, y in data.train.take(settings["batches"])]
    # Padded and real tokens of one whole epoch of bucketed batches.
    padded = real = reviews = 0
    for x, _ in data.train:
        padded, real, reviews = padded + int(tf.size(x)), real + int(tf.math.count_nonzero(x)), reviews + int(x.shape[0])
    naive_batches, naive_reviews = _naive_recipe_batches(settings)
    large_batches = _rebatched_by_length(batches, LARGE_BATCH)
    build = reference.keras_model

    torch.manual_seed(0)
    keras_io = keras_io_reference()

    def keras_io_in_torch(**options):
        return torch_training_pass(keras_io, naive_batches, **options)

    variants = {
        "kerasrnn BiLSTM-64, bucketed (Keras LSTM layers)": _keras_variant(build(), batches),
        "kerasrnn BiLSTM-64, bucketed + FastLSTM": _keras_variant(build(), batches, fast=True),
        LARGE_BATCH_VARIANT: _keras_variant(build(), large_batches, fast=True),
        "PyTorch BiLSTM-64, same batches (packed)": torch_training_pass(reference, batches),
        "PyTorch BiLSTM-64, same batches (packed), oneDNN off": torch_training_pass(reference, batches, onednn=False),
        "naive keras-io recipe (2×BiLSTM-64, padded to 200)": (lambda m: lambda: [
            m.train_on_batch(x, y) for x, y in naive_batches])(naive_keras_io_model()),
        "PyTorch keras-io architecture, same padded batches": keras_io_in_torch(),
        "PyTorch keras-io architecture, same padded batches, oneDNN off": keras_io_in_torch(onednn=False),
    }
    ours = rnn_flops_per_token("lstm", 128, 64, 2)
    naive = rnn_flops_per_token("lstm", 128, 64, 2) + rnn_flops_per_token("lstm", 128, 64, 2)
    flops = {name: (naive if "keras-io" in name else ours) for name in variants}
    by_variant = {name: (naive_batches if "keras-io" in name else batches) for name in variants}
    by_variant[LARGE_BATCH_VARIANT] = large_batches
    rows = _measure("sentiment", variants, by_variant, settings["repetitions"], flops)
    for row in rows:
        if "keras-io" in row["variant"]:
            row["epoch_tokens"] = naive_reviews * 200
            row["epoch_note"] = f"{naive_reviews} reviews × 200 padded tokens"
            row["epoch_tokens_kind"] = "padded"
            row["architecture"] = "Embedding 128 → BiLSTM 64 (seq) → BiLSTM 64 → Dense 1, batch 32 × 200"
        elif row["variant"] == LARGE_BATCH_VARIANT:
            # Its batches pad differently, so its epoch is counted in real tokens.
            row["epoch_tokens"] = real / reviews * naive_reviews
            row["epoch_note"] = f"{naive_reviews} reviews × {real / reviews:.1f} real tokens per review"
            row["epoch_tokens_kind"] = "real"
            row["architecture"] = f"as above, batches of {LARGE_BATCH} reviews"
        else:
            # Scaled to the recipe's 25,000 reviews so the epochs are comparable.
            row["epoch_tokens"] = padded / reviews * naive_reviews
            row["epoch_note"] = (f"{naive_reviews} reviews × {padded / reviews:.1f} padded tokens per review "
                                 f"(mean over {reviews} bucketed training reviews, cut at 200)")
            row["epoch_tokens_kind"] = "padded"
            row["architecture"] = reference.architecture
    return rows


def pos(settings):
    """UD English EWT: the word-level BiLSTM-128 tagger vs the same in PyTorch."""
    reference = reference_for("pos", settings)
    data = reference.data
    batches = [(x.numpy(), y.numpy()) for x, y in data.train.take(settings["batches"])]
    padded = 0
    for x, _ in data.train:
        padded += int(tf.size(x))
    tags = data.spec_arguments["num_tags"]

    torch.manual_seed(0)
    variants = {
        "kerasrnn BiLSTM-128 tagger (Keras LSTM layers)": _keras_variant(reference.keras_model(), batches),
        "kerasrnn BiLSTM-128 tagger + FastLSTM": _keras_variant(reference.keras_model(), batches, fast=True),
        "PyTorch BiLSTM-128 tagger, same batches (packed)": torch_training_pass(reference, batches),
        "PyTorch BiLSTM-128 tagger, same batches (packed), oneDNN off": torch_training_pass(reference, batches, onednn=False),
    }
    flops = rnn_flops_per_token("lstm", 100, 128, 2) + 2 * 256 * tags
    rows = _measure("pos", variants, {name: batches for name in variants}, settings["repetitions"],
                    {name: flops for name in variants})
    for row in rows:
        row["epoch_tokens"] = padded
        row["epoch_tokens_kind"] = "padded"
        row["architecture"] = reference.architecture
    return rows
