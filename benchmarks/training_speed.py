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
from benchmarks.torch_models import TorchBiLSTMClassifier, TorchBiLSTMTagger, TorchCharLM, torch_train_step
from kerasrnn.layers.fast_rnn import with_batched_input_projection
from kerasrnn.tasks import build_char_lm, build_pos_tagger, build_sentiment_classifier

DATA = "../shared/data"


def _keras_variant(model, batches, jit_compile=False, fast=False):
    if fast:
        model = with_batched_input_projection(model)
    if jit_compile:
        model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"], jit_compile=True)

    def one_pass():
        for x, y in batches:
            model.train_on_batch(x, y)

    return one_pass


def _torch_variant(model, batches, loss_of, learning_rate, onednn=True, flush_denormal=True):
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    tensors = [(torch.from_numpy(x.astype("int64")), torch.from_numpy(y.astype("int64"))) for x, y in batches]

    def one_pass():
        model.train()
        # PyTorch's CPU LSTM goes through oneDNN by default; its native kernel
        # is faster for some shapes on this CPU, so both are measured and
        # kerasrnn is compared with the faster. Subnormal floats are flushed to
        # zero as TensorFlow does by default: PyTorch does not, and its LSTM
        # backward then runs up to ~2x slower here on subnormal arithmetic.
        torch.set_flush_denormal(flush_denormal)
        try:
            with torch.backends.mkldnn.flags(enabled=onednn):
                for x, y in tensors:
                    torch_train_step(model, optimizer, lambda m: loss_of(m(x), x, y))
        finally:
            torch.set_flush_denormal(False)

    return one_pass


def _masked_token_loss(logits, ids, targets):
    keep = ids != 0
    return torch.nn.functional.cross_entropy(logits[keep], targets[keep])


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
    from kerasrnn.workflows import char_lm as workflow

    units, layers = settings["char_units"], 2
    data = workflow.prepare(f"{DATA}/tinyshakespeare/input.txt", batch_size=64, seq_len=100)
    batches = [(x.numpy(), y.numpy()) for x, y in data.train.take(settings["batches"])]
    vocab = data.spec_arguments["vocab_size"]

    def build():
        return build_char_lm(vocab, cell="lstm", units=units, num_layers=layers, embedding_dim=64, learning_rate=2e-3)

    torch.manual_seed(0)
    variants = {
        "kerasrnn (Keras LSTM layers)": _keras_variant(build(), batches),
        "kerasrnn + FastLSTM": _keras_variant(build(), batches, fast=True),
        "kerasrnn + FastLSTM + XLA (jit_compile)": _keras_variant(build(), batches, fast=True, jit_compile=True),
        "PyTorch 2-layer nn.LSTM": _torch_variant(
            TorchCharLM(vocab, 64, units, layers), batches,
            lambda logits, ids, y: torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1)), 2e-3),
        "PyTorch 2-layer nn.LSTM, oneDNN off": _torch_variant(
            TorchCharLM(vocab, 64, units, layers), batches,
            lambda logits, ids, y: torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1)), 2e-3,
            onednn=False),
    }
    flops = rnn_flops_per_token("lstm", 64, units) + rnn_flops_per_token("lstm", units, units) + 2 * units * vocab
    rows = _measure("char_lm", variants, {name: batches for name in variants}, settings["repetitions"],
                    {name: flops for name in variants})
    epoch_tokens = data.train_examples
    for row in rows:
        row["epoch_tokens"] = epoch_tokens
        row["architecture"] = f"Embedding 64 → LSTM {units} → LSTM {units} → Dense {vocab}, batch 64 × 100"
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


TORCH_SUBNORMALS_VARIANT = "PyTorch keras-io architecture, same padded batches, subnormals not flushed (PyTorch's default)"
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
    from kerasrnn.workflows import sentiment as workflow

    data = workflow.prepare(f"{DATA}/aclImdb_v1_labeled.tar.gz", batch_size=32, max_length=200,
                            max_examples=settings["sentiment_examples"])
    batches = [(x.numpy(), y.numpy()) for x, y in data.train.take(settings["batches"])]
    # Padded and real tokens of one whole epoch of bucketed batches.
    padded = real = reviews = 0
    for x, _ in data.train:
        padded, real, reviews = padded + int(tf.size(x)), real + int(tf.math.count_nonzero(x)), reviews + int(x.shape[0])
    vocab = data.spec_arguments["vocab_size"]
    naive_batches, naive_reviews = _naive_recipe_batches(settings)
    large_batches = _rebatched_by_length(batches, LARGE_BATCH)

    def build():
        return build_sentiment_classifier(vocab, cell="lstm", units=64, embedding_dim=128)

    torch.manual_seed(0)
    ce = lambda logits, ids, y: torch.nn.functional.cross_entropy(logits, y)  # noqa: E731
    bce = lambda logits, ids, y: torch.nn.functional.binary_cross_entropy_with_logits(  # noqa: E731
        logits[:, 0], y.float())
    variants = {
        "kerasrnn BiLSTM-64, bucketed (Keras LSTM layers)": _keras_variant(build(), batches),
        "kerasrnn BiLSTM-64, bucketed + FastLSTM": _keras_variant(build(), batches, fast=True),
        LARGE_BATCH_VARIANT: _keras_variant(build(), large_batches, fast=True),
        "PyTorch BiLSTM-64, same batches (packed)": _torch_variant(
            TorchBiLSTMClassifier(vocab, 128, 64, 1, 2), batches, ce, 1e-3),
        "PyTorch BiLSTM-64, same batches (packed), oneDNN off": _torch_variant(
            TorchBiLSTMClassifier(vocab, 128, 64, 1, 2), batches, ce, 1e-3, onednn=False),
        "naive keras-io recipe (2×BiLSTM-64, padded to 200)": (lambda m: lambda: [
            m.train_on_batch(x, y) for x, y in naive_batches])(naive_keras_io_model()),
        "PyTorch keras-io architecture, same padded batches": _torch_variant(
            TorchBiLSTMClassifier(20000, 128, 64, 2, 1, packed=False), naive_batches, bce, 1e-3),
        "PyTorch keras-io architecture, same padded batches, oneDNN off": _torch_variant(
            TorchBiLSTMClassifier(20000, 128, 64, 2, 1, packed=False), naive_batches, bce, 1e-3, onednn=False),
        TORCH_SUBNORMALS_VARIANT: _torch_variant(
            TorchBiLSTMClassifier(20000, 128, 64, 2, 1, packed=False), naive_batches, bce, 1e-3,
            flush_denormal=False),
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
            row["architecture"] = f"Embedding 128 (mask) → BiLSTM 64 → Dense 2, vocab {vocab}, batch 32, bucketed"
    return rows


def pos(settings):
    """UD English EWT: the word-level BiLSTM-128 tagger vs the same in PyTorch."""
    from kerasrnn.workflows import pos_tagger as workflow

    data = workflow.prepare(f"{DATA}/ud-english-ewt", batch_size=32)
    batches = [(x.numpy(), y.numpy()) for x, y in data.train.take(settings["batches"])]
    padded = 0
    for x, _ in data.train:
        padded += int(tf.size(x))
    vocab, tags = data.spec_arguments["vocab_size"], data.spec_arguments["num_tags"]

    def build():
        return build_pos_tagger(vocab, tags, cell="lstm", units=128, embedding_dim=100, learning_rate=2e-3)

    torch.manual_seed(0)
    variants = {
        "kerasrnn BiLSTM-128 tagger (Keras LSTM layers)": _keras_variant(build(), batches),
        "kerasrnn BiLSTM-128 tagger + FastLSTM": _keras_variant(build(), batches, fast=True),
        "PyTorch BiLSTM-128 tagger, same batches (packed)": _torch_variant(
            TorchBiLSTMTagger(vocab, 100, 128, tags), batches, _masked_token_loss, 2e-3),
        "PyTorch BiLSTM-128 tagger, same batches (packed), oneDNN off": _torch_variant(
            TorchBiLSTMTagger(vocab, 100, 128, tags), batches, _masked_token_loss, 2e-3, onednn=False),
    }
    flops = rnn_flops_per_token("lstm", 100, 128, 2) + 2 * 256 * tags
    rows = _measure("pos", variants, {name: batches for name in variants}, settings["repetitions"],
                    {name: flops for name in variants})
    for row in rows:
        row["epoch_tokens"] = padded
        row["epoch_tokens_kind"] = "padded"
        row["architecture"] = f"Embedding 100 (mask) → BiLSTM 128 → Dense {tags}, word level, batch 32, bucketed"
    return rows
