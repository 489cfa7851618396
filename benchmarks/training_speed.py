"""Training throughput of each task's reference model: kerasrnn vs PyTorch vs the naive Keras recipe.

Every reference is what users run (benchmarks/references.py): the defaults
of `kerasrnn train TASK` or the zoo recipe `charlm-shakespeare-lstm`. A row
that users do not get by default is marked `users_get: False` and labelled
"(variant, not a default)" in RESULTS.md.

Every variant trains on the same list of real batches (for the naive recipe:
its own real batches, padded to 200 tokens as the keras-io example does).
One warm-up pass over the list (tracing, allocator) is not timed; then each
repetition times one pass over the whole list, variants interleaved A B C A B C.
"""

import dataclasses
from typing import Callable

import keras
import numpy as np
import tensorflow as tf
import torch

from benchmarks.measure import PeakRss, interleaved, median, seconds
from benchmarks.references import DATA, keras_io_reference, reference_for
from benchmarks.torch_models import torch_training_pass
from kerasrnn.tasks.registry import get_task


@dataclasses.dataclass(frozen=True)
class KerasVariant:
    """One way of training a task's reference model in kerasrnn.

    Attributes:
        build: `build(reference)` returns the compiled Keras model to train.
        users_get: True only if `kerasrnn train` (or the zoo recipe) trains exactly this model.

    Example:

    >>> KerasVariant(build=lambda reference: reference.keras_model(), users_get=True).users_get
    True
    """

    build: Callable
    users_get: bool


def _without_fused_kernel(model):
    """`model` with every FastLSTM on its pure-Keras path, as on a machine with no C++ compiler."""
    return _with_layer_attribute(model, "use_fused_kernel", False)


def _without_onednn(model):
    """`model` with every FastLSTM on the Eigen fused op for unmasked sequences, as where oneDNN is not installed."""
    return _with_layer_attribute(model, "use_onednn", False)


def _with_layer_attribute(model, attribute, value):
    from kerasrnn.keras_adapter import nested_layers

    for layer in nested_layers(model):
        if hasattr(layer, attribute):
            setattr(layer, attribute, value)
    return model


CHAR_LM_RECIPE_VARIANT = "kerasrnn charlm-shakespeare-lstm recipe (oneDNN LSTM op)"
CHAR_LM_EIGEN_VARIANT = "kerasrnn charlm-shakespeare-lstm recipe, oneDNN off (Eigen fused op, as without oneDNN)"
CHAR_LM_KERAS_LOOP_VARIANT = "kerasrnn charlm-shakespeare-lstm recipe, fused kernels off (Keras loop, as without a compiler)"
# The char LM's kerasrnn rows. Add a variant here (and nowhere else): each
# trains on the same batches as PyTorch and is reported and compared by name.
CHAR_LM_KERASRNN_VARIANTS = {
    CHAR_LM_RECIPE_VARIANT: KerasVariant(build=lambda reference: reference.keras_model(), users_get=True),
    CHAR_LM_EIGEN_VARIANT: KerasVariant(
        build=lambda reference: _without_onednn(reference.keras_model()), users_get=False),
    CHAR_LM_KERAS_LOOP_VARIANT: KerasVariant(
        build=lambda reference: _without_fused_kernel(reference.keras_model()), users_get=False),
}


# The cells beside each task's LSTM default (issue #32): kerasrnn's fused layer, Keras' loop and PyTorch.
OTHER_CELLS = {"gru": ("FastGRU", "GRU"), "simple_rnn": ("FastSimpleRNN", "RNN")}


def cell_variant_names(prefix, torch_prefix, cell):
    """The three variant names of one cell of a task: kerasrnn's fused layer, Keras' loop, PyTorch.

    Args:
        prefix: what users run, e.g. `"kerasrnn train sentiment"`.
        torch_prefix: the PyTorch twin's name with `{layer}` for `nn.GRU` / `nn.RNN`.
        cell: a key of `OTHER_CELLS`.

    Example:

    >>> cell_variant_names("kerasrnn train pos_tagger", "PyTorch {layer} tagger", "gru")["PyTorch"]
    'PyTorch nn.GRU tagger'
    """
    fast, torch_layer = OTHER_CELLS[cell]
    return {"fused": f"{prefix} --cell {cell}: {fast} (oneDNN op)",
            "Keras loop": f"{prefix} --cell {cell}: Keras' loop",
            "PyTorch": torch_prefix.format(layer=f"nn.{torch_layer}")}


def _other_cell_variants(reference, batches, prefix, torch_prefix):
    """Each other cell of a task trained three ways on `batches`: `(variants, row fields by variant name)`.

    The fused and Keras-loop variants are the same model (`--cell` on the
    task's defaults or recipe) with and without the fused op (which of the
    two `--cell` trains is the report's to say: `kerasrnn.layers.recurrent_stack.CELLS`).
    """
    from kerasrnn.layers import with_fast_rnn
    from kerasrnn.layers.recurrent_stack import CELLS

    variants, fields = {}, {}
    for cell, (fast, _) in OTHER_CELLS.items():
        names = cell_variant_names(prefix, torch_prefix, cell)
        fused = reference.keras_model(cell=cell)
        if CELLS[cell].__name__ != fast:
            fused = with_fast_rnn(fused)  # --cell trains Keras' layer: the fused one is measured beside it
        variants[names["fused"]] = _keras_variant(fused, batches)
        variants[names["Keras loop"]] = _keras_variant(_without_fused_kernel(reference.keras_model(cell=cell)), batches)
        variants[names["PyTorch"]] = torch_training_pass(reference, batches, model=reference.torch_model(cell=cell))
        for kind, name in names.items():
            fields[name] = {"cell": cell, "cell_kind": kind, "forward_flops_per_token": reference.forward_flops_of_cell(cell)}
    return variants, fields


def _keras_variant(model, batches):
    def one_pass():
        for x, y in batches:
            model.train_on_batch(x, y)

    return one_pass


def _measure(task, variants, batches_by_variant, repetitions, flops_by_variant, users_get=()):
    """Warm up, then time interleaved passes; returns one row per variant (`users_get`: the default ones)."""
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
            "task": task, "variant": name, "users_get": name in users_get, "seconds_per_pass": values,
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
    """Tiny Shakespeare, the zoo recipe charlm-shakespeare-lstm (2-layer LSTM char LM, stateful 64 x 100 windows)."""
    reference = reference_for("char_lm", settings)
    data = reference.data
    batches = [(x.numpy(), y.numpy()) for x, y in data.train.take(settings["batches"])]

    from kerasrnn.kernels import load_lstm_ops, load_onednn_lstm_ops, onednn_unavailable_reason, unavailable_reason

    # The recipe's layers use the fused ops only where they build; say which ran.
    print(f"[benchmarks]   fused LSTM kernel: {'loaded' if load_lstm_ops() else unavailable_reason()}; "
          f"oneDNN LSTM op: {'loaded' if load_onednn_lstm_ops() else onednn_unavailable_reason()}", flush=True)
    torch.manual_seed(0)
    variants = {name: _keras_variant(variant.build(reference), batches)
                for name, variant in CHAR_LM_KERASRNN_VARIANTS.items()}
    variants["PyTorch 2-layer nn.LSTM, same recipe"] = torch_training_pass(reference, batches)
    variants["PyTorch 2-layer nn.LSTM, same recipe, oneDNN off"] = torch_training_pass(reference, batches, onednn=False)
    cells, cell_fields = _other_cell_variants(reference, batches, "kerasrnn charlm-shakespeare-lstm recipe",
                                              "PyTorch 2-layer {layer}, same recipe")
    variants.update(cells)
    users_get = {name for name, variant in CHAR_LM_KERASRNN_VARIANTS.items() if variant.users_get}
    rows = _measure("char_lm", variants, {name: batches for name in variants}, settings["repetitions"],
                    {name: reference.forward_flops_per_token for name in variants}, users_get)
    for row in rows:
        row.update(cell_fields.get(row["variant"], {}))
        row["epoch_tokens"] = data.train_examples * batches[0][0].shape[1]  # windows x characters per window
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


SENTIMENT_DEFAULTS = "kerasrnn train sentiment defaults"
# The masked LSTM's path before it moved to oneDNN (where oneDNN is missing, still its path).
EIGEN_MASKED = "oneDNN off (masked batches on the Eigen fused op, as without oneDNN)"
SMALL_BATCH = 32
SMALL_BATCH_VARIANT = f"kerasrnn train sentiment defaults, batches of {SMALL_BATCH} (not the default)"
NAIVE_RECIPE = "naive keras-io recipe (2×BiLSTM-64, padded to 200)"


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


# The bucket edges `bucketed_batches` used before its geometric default.
POWER_OF_TWO_EDGES = (16, 32, 64, 128, 256, 512)


def _epoch_padding(lengths, batch_size):
    """Real tokens, and padded tokens per epoch with the default and with power-of-two bucket edges.

    Examples of the given lengths (of one epoch's training examples) go
    through `bucketed_batches` twice. A padded step costs what a real one
    does, so at one padded-token throughput the epoch time is proportional
    to the padded tokens.
    """
    from kerasrnn.data import bucketed_batches

    lengths = np.asarray(lengths)
    padded = {}
    for name, edges in (("default", None), ("power_of_two", POWER_OF_TWO_EDGES)):
        examples = tf.data.Dataset.from_tensor_slices(tf.RaggedTensor.from_row_lengths(tf.ones(int(lengths.sum()), "int32"), lengths))
        examples = examples.map(lambda ids: (ids, 0))
        options = {} if edges is None else {"boundaries": edges}
        batched = bucketed_batches(examples, batch_size, shuffle_buffer=len(lengths), seed=0, **options)
        padded[name] = sum(int(tf.size(x)) for x, _ in batched)
    return {"real_tokens": int(lengths.sum()), "padded_tokens_default_edges": padded["default"],
            "padded_tokens_power_of_two_edges": padded["power_of_two"]}


def sentiment(settings):
    """IMDB: `kerasrnn train sentiment` defaults vs the same in PyTorch vs the keras-io recipe."""
    reference = reference_for("sentiment", settings)
    data = reference.data
    batches = [(x.numpy(), y.numpy()) for x, y in data.train.take(settings["batches"])]
    # Padded and real tokens of one whole epoch of the default bucketed batches.
    padded, lengths = 0, []
    for x, _ in data.train:
        padded += int(tf.size(x))
        lengths.extend(tf.math.count_nonzero(x, axis=1).numpy())  # every id but padding is non-zero
    real, reviews = int(sum(lengths)), len(lengths)
    epoch_padding = _epoch_padding(lengths, get_task("sentiment").batch_size)
    naive_batches, naive_reviews = _naive_recipe_batches(settings)
    small_batches = _rebatched_by_length(batches, SMALL_BATCH)

    torch.manual_seed(0)
    keras_io = keras_io_reference()

    def keras_io_in_torch(**options):
        return torch_training_pass(keras_io, naive_batches, **options)

    same = "PyTorch BiLSTM-64 + max pooling, same batches (packed)"
    variants = {
        SENTIMENT_DEFAULTS: _keras_variant(reference.keras_model(), batches),
        f"{SENTIMENT_DEFAULTS}, {EIGEN_MASKED}": _keras_variant(_without_onednn(reference.keras_model()), batches),
        SMALL_BATCH_VARIANT: _keras_variant(reference.keras_model(), small_batches),
        same: torch_training_pass(reference, batches),
        same + ", oneDNN off": torch_training_pass(reference, batches, onednn=False),
        NAIVE_RECIPE: _keras_variant(naive_keras_io_model(), naive_batches),
        "PyTorch keras-io architecture, same padded batches": keras_io_in_torch(),
        "PyTorch keras-io architecture, same padded batches, oneDNN off": keras_io_in_torch(onednn=False),
    }
    cells, cell_fields = _other_cell_variants(reference, batches, "kerasrnn train sentiment",
                                              "PyTorch bidirectional {layer}-64 + max pooling, same batches (packed)")
    variants.update(cells)
    flops = {name: (keras_io.forward_flops_per_token if "keras-io" in name else reference.forward_flops_per_token)
             for name in variants}
    by_variant = {name: (naive_batches if "keras-io" in name else batches) for name in variants}
    by_variant[SMALL_BATCH_VARIANT] = small_batches
    rows = _measure("sentiment", variants, by_variant, settings["repetitions"], flops, {SENTIMENT_DEFAULTS})
    for row in rows:
        row.update(cell_fields.get(row["variant"], {}))
        if "keras-io" in row["variant"]:
            row["epoch_tokens"] = naive_reviews * 200
            row["epoch_note"] = f"{naive_reviews} reviews × 200 padded tokens"
            row["epoch_tokens_kind"] = "padded"
            row["architecture"] = keras_io.architecture
        elif row["variant"] == SMALL_BATCH_VARIANT:
            # Its batches pad differently, so its epoch is counted in real tokens.
            row["epoch_tokens"] = real / reviews * naive_reviews
            row["epoch_note"] = f"{naive_reviews} reviews × {real / reviews:.1f} real tokens per review"
            row["epoch_tokens_kind"] = "real"
            row["architecture"] = f"as the defaults, the same reviews re-bucketed into batches of {SMALL_BATCH}"
        elif "cell" in row:
            row["epoch_tokens"] = padded / reviews * naive_reviews
            row["epoch_note"] = f"{naive_reviews} reviews × {padded / reviews:.1f} padded tokens per review"
            row["epoch_tokens_kind"] = "padded"
            row["architecture"] = reference.architecture.replace("BiLSTM", f"bidirectional {row['cell']}").replace(
                " (fused op)", "")
        else:
            # Scaled to the recipe's 25,000 reviews so the epochs are comparable.
            row["epoch_tokens"] = padded / reviews * naive_reviews
            row["epoch_note"] = (f"{naive_reviews} reviews × {padded / reviews:.1f} padded tokens per review "
                                 f"(mean over {reviews} bucketed training reviews)")
            row["epoch_tokens_kind"] = "padded"
            row["architecture"] = reference.architecture
        if row["users_get"]:
            row["epoch_padding"] = epoch_padding
    return rows


def pos(settings):
    """UD English EWT: `kerasrnn train pos_tagger` defaults (word-level BiLSTM-128) vs the same in PyTorch."""
    reference = reference_for("pos", settings)
    data = reference.data
    batches = [(x.numpy(), y.numpy()) for x, y in data.train.take(settings["batches"])]
    padded, lengths = 0, []
    for x, _ in data.train:
        padded += int(tf.size(x))
        lengths.extend(tf.math.count_nonzero(x, axis=1).numpy())  # every id but padding is non-zero

    torch.manual_seed(0)
    same = "PyTorch BiLSTM-128 tagger, same batches (packed)"
    variants = {
        "kerasrnn train pos_tagger defaults": _keras_variant(reference.keras_model(), batches),
        f"kerasrnn train pos_tagger defaults, {EIGEN_MASKED}": _keras_variant(
            _without_onednn(reference.keras_model()), batches),
        same: torch_training_pass(reference, batches),
        same + ", oneDNN off": torch_training_pass(reference, batches, onednn=False),
    }
    cells, cell_fields = _other_cell_variants(reference, batches, "kerasrnn train pos_tagger",
                                              "PyTorch bidirectional {layer}-128 tagger, same batches (packed)")
    variants.update(cells)
    rows = _measure("pos", variants, {name: batches for name in variants}, settings["repetitions"],
                    {name: reference.forward_flops_per_token for name in variants},
                    {"kerasrnn train pos_tagger defaults"})
    for row in rows:
        row.update(cell_fields.get(row["variant"], {}))
        row["epoch_tokens"] = padded
        row["epoch_tokens_kind"] = "padded"
        row["architecture"] = reference.architecture
        if row["users_get"]:
            row["epoch_padding"] = _epoch_padding(lengths, get_task("pos_tagger").batch_size)
    return rows
