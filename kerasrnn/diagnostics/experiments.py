"""The three comparisons `kerasrnn diagnose` runs on real data.

1. Cells: SimpleRNN vs LSTM vs GRU, gradient flow over `seq_len` steps at
   initialization and after a short training.
2. Clipping: the gradient norm over training steps with no clipping,
   `clipnorm`, `clipvalue` and `global_clipnorm`, and how often each clipped.
3. Initialization: Glorot vs He vs orthogonal recurrent kernels, gradient
   flow and spectrum.

Tiny Shakespeare (a text file) trains a character language model; IMDB (the
aclImdb folder or tarball) trains a many-to-one sentiment classifier.
"""

import dataclasses
import os
import time

import keras
import numpy as np
import tensorflow as tf

from kerasrnn.data import read_text, split_text, tbptt_dataset
from kerasrnn.diagnostics.config import CELLS, DiagnoseConfig
from kerasrnn.diagnostics.flow import decay_rate, gradient_flow
from kerasrnn.diagnostics.monitor import GradientNormMonitor
from kerasrnn.diagnostics.spectrum import recurrent_spectrum
from kerasrnn.tasks import build_char_lm, build_sentiment_classifier

CLIPPING_MODES = ("none", "clipnorm", "clipvalue", "global_clipnorm")
RECURRENT_INITIALIZERS = ("glorot_uniform", "he_normal", "orthogonal")


@dataclasses.dataclass
class DiagnosisData:
    """A task on real data: how to build its model, its training stream, a held-out probe batch.

    Attributes:
        task: `"char_lm"` or `"sentiment"`.
        description: one line for plot titles.
        build: `build(**builder_options)` returns a compiled model for this data.
        train: an endless-enough `tf.data.Dataset` of `(ids, targets)` batches.
        probe: the held-out `(inputs, targets)` batch the flow is measured on.

    Example:

    >>> data = load_diagnosis_data("../shared/data/tinyshakespeare/input.txt", DiagnoseConfig(seq_len=20))
    >>> data.task, data.probe[0].shape
    ('char_lm', (8, 20))
    """

    task: str
    description: str
    build: object
    train: tf.data.Dataset
    probe: tuple


def shakespeare_data(path, config):
    """Char LM on a text file: TBPTT windows of the first 90%, probe windows from the last 10%.

    Args:
        path: a UTF-8 text file (Tiny Shakespeare's `input.txt`).
        config: a `DiagnoseConfig`.

    Example:

    >>> shakespeare_data("../shared/data/tinyshakespeare/input.txt", DiagnoseConfig(seq_len=20)).task
    'char_lm'
    """
    from kerasrnn.tasks.char_lm import CharLanguageModelPreprocessor

    train_text, val_text = split_text(read_text(path))
    characters = sorted(set(train_text))
    preprocessor = CharLanguageModelPreprocessor(characters)
    # Enough training text for every run, so no window repeats within a run.
    needed = (max(config.train_steps, config.clip_steps) + 1) * config.batch_size * config.seq_len + 1
    train_ids = preprocessor.encode(train_text[:needed])
    val_ids = preprocessor.encode(val_text)
    stride = (len(val_ids) - config.seq_len - 1) // config.probe_examples
    if stride <= 0:
        raise ValueError(f"{path}: the held-out text is too short for {config.probe_examples} windows of {config.seq_len}.")
    starts = np.arange(config.probe_examples) * stride
    probe = (
        np.stack([val_ids[s : s + config.seq_len] for s in starts]),
        np.stack([val_ids[s + 1 : s + config.seq_len + 1] for s in starts]),
    )
    train = tbptt_dataset(train_ids, config.batch_size, config.seq_len).shuffle(4096, seed=config.seed)

    def build(**options):
        return build_char_lm(len(characters) + 1, units=config.units, num_layers=1, **options)

    return DiagnosisData(
        task="char_lm",
        description=f"character LM on {os.path.basename(path)} ({len(characters) + 1} ids), "
        f"windows of {config.seq_len} characters",
        build=build,
        train=train,
        probe=probe,
    )


def imdb_data(path, config, vocab_size=20000):
    """Sentiment on IMDB: reviews of at least `seq_len` tokens, cut to exactly `seq_len` (no padding).

    Args:
        path: the aclImdb folder or tarball.
        config: a `DiagnoseConfig`.
        vocab_size: the vocabulary size, padding and OOV included.

    Example:

    >>> imdb_data("../shared/data/aclImdb_v1_labeled.tar.gz", DiagnoseConfig()).task  # doctest: +SKIP
    'sentiment'
    """
    from kerasrnn.data import load_imdb
    from kerasrnn.layers.standardize import standardize_review

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
    )


def load_diagnosis_data(path, config):
    """Pick the task from `path`: a text file → char LM; an aclImdb folder or tarball → sentiment.

    Args:
        path: Tiny Shakespeare's `input.txt`, or IMDB's folder or `.tar.gz`.
        config: a `DiagnoseConfig`.

    Example:

    >>> load_diagnosis_data("no/such/file", DiagnoseConfig())
    Traceback (most recent call last):
    ...
    FileNotFoundError: --data: 'no/such/file' does not exist (Tiny Shakespeare input.txt or IMDB).
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"--data: {path!r} does not exist (Tiny Shakespeare input.txt or IMDB).")
    if os.path.isdir(path) or path.endswith((".tar.gz", ".tgz")):
        return imdb_data(path, config)
    return shakespeare_data(path, config)


def _flow_summary(flow, layer):
    item = flow.get(layer)
    return {
        "loss": flow.loss,
        "jacobian_norm": item.jacobian_norm,
        "loss_gradient_norm": item.loss_gradient_norm,
        "jacobian_decay_rate": decay_rate(item.jacobian_norm) if np.sum(item.jacobian_norm > 0) > 1 else None,
        "loss_gradient_decay_rate": decay_rate(item.loss_gradient_norm)
        if np.sum(item.loss_gradient_norm > 0) > 1
        else None,
        "jacobian_norm_first_step": float(item.jacobian_norm[0]),
        "loss_gradient_norm_first_step": float(item.loss_gradient_norm[0]),
        "loss_gradient_norm_last_step": float(item.loss_gradient_norm[-1]),
    }


def _train(model, data, steps, seed, monitor=None):
    keras.utils.set_random_seed(seed)
    losses = []
    recorder = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: losses.append(float(logs["loss"])))
    callbacks = [recorder] + ([monitor] if monitor else [])
    model.fit(data.train.take(steps), epochs=1, verbose=0, callbacks=callbacks)
    return losses


def compare_cells(data, config, log=print):
    """Comparison 1: gradient flow of each cell at initialization and after `train_steps` steps.

    Args:
        data: a `DiagnosisData`.
        config: a `DiagnoseConfig`.
        log: where progress lines go.

    Example:

    >>> compare_cells(data, DiagnoseConfig())["lstm"]["trained"]["jacobian_decay_rate"]  # doctest: +SKIP
    -0.11
    """
    results = {}
    for cell in CELLS:
        keras.utils.set_random_seed(config.seed)
        model = data.build(cell=cell)
        layer = f"{cell}_1"
        start = time.time()
        at_init = _flow_summary(gradient_flow(model, data.probe, jacobian_examples=config.jacobian_examples), layer)
        losses = _train(model, data, config.train_steps, config.seed)
        trained = _flow_summary(gradient_flow(model, data.probe, jacobian_examples=config.jacobian_examples), layer)
        results[cell] = {"initial": at_init, "trained": trained, "training_loss": losses}
        log(f"cells: {cell}: ‖∂h_T/∂h_0‖ {at_init['jacobian_norm_first_step']:.3g} → "
            f"{trained['jacobian_norm_first_step']:.3g} after {config.train_steps} steps ({time.time() - start:.0f}s)")
    return results


def compare_clipping(data, config, log=print):
    """Comparison 2: gradient norms over training with each clipping mode, same seed and batches.

    Args:
        data: a `DiagnosisData`.
        config: a `DiagnoseConfig` (its thresholds and `clip_cell`).
        log: where progress lines go.

    Example:

    >>> compare_clipping(data, DiagnoseConfig())["clipnorm"]["clip_fraction"]  # doctest: +SKIP
    0.07
    """
    results = {}
    for mode in CLIPPING_MODES:
        options = {} if mode == "none" else {mode: getattr(config, mode)}
        keras.utils.set_random_seed(config.seed)
        model = data.build(cell=config.clip_cell, **options)
        monitor = GradientNormMonitor(every=1)
        start = time.time()
        losses = _train(model, data, config.clip_steps, config.seed, monitor)
        history = monitor.history
        results[mode] = {
            "threshold": options.get(mode),
            "global_norm": history["global_norm"],
            "global_norm_clipped": history["global_norm_clipped"],
            "max_abs": history["max_abs"],
            "max_abs_clipped": history["max_abs_clipped"],
            "clipped": history["clipped"],
            "clip_fraction": monitor.clip_fraction(),
            "layer_norms": history["layer_norms"],
            "training_loss": losses,
            "final_loss": losses[-1],
        }
        log(f"clipping: {mode}: clipped {monitor.clip_fraction():.0%} of steps, "
            f"final loss {losses[-1]:.3f} ({time.time() - start:.0f}s)")
    return results


def compare_initializers(data, config, log=print):
    """Comparison 3: recurrent initializers × {SimpleRNN, LSTM}: gradient flow and spectrum at init.

    Args:
        data: a `DiagnosisData`.
        config: a `DiagnoseConfig`.
        log: where progress lines go.

    Example:

    >>> compare_initializers(data, DiagnoseConfig())["simple_rnn"]["orthogonal"]["spectrum"]  # doctest: +SKIP
    {'kernel': {'max_singular_value': 1.0, 'spectral_radius': 1.0}}
    """
    results = {}
    for cell in ("simple_rnn", "lstm"):
        results[cell] = {}
        for initializer in RECURRENT_INITIALIZERS:
            keras.utils.set_random_seed(config.seed)
            model = data.build(cell=cell, recurrent_initializer=initializer)
            flow = _flow_summary(gradient_flow(model, data.probe, jacobian_examples=config.jacobian_examples), f"{cell}_1")
            spectrum = recurrent_spectrum(model)[f"{cell}_1"]["forward"]
            results[cell][initializer] = {**flow, "spectrum": spectrum}
            log(f"init: {cell} {initializer}: ‖∂h_T/∂h_0‖ {flow['jacobian_norm_first_step']:.3g}")
    return results


def run_diagnosis(data_path, config=None, log=print):
    """Run the three comparisons on real data; returns one JSON-ready dict of results.

    Args:
        data_path: Tiny Shakespeare's `input.txt` (char LM) or IMDB's tarball/folder (sentiment).
        config: a `DiagnoseConfig` (default: the committed report's settings).
        log: where progress lines go.

    Example:

    >>> results = run_diagnosis("../shared/data/tinyshakespeare/input.txt",
    ...                         DiagnoseConfig(seq_len=20, units=8, train_steps=2, clip_steps=2),
    ...                         log=lambda line: None)
    >>> sorted(results)
    ['cells', 'clipping', 'config', 'data', 'initializers', 'seconds']
    """
    config = config or DiagnoseConfig()
    start = time.time()
    data = load_diagnosis_data(data_path, config)
    log(f"data: {data.description}")
    results = {
        "config": dataclasses.asdict(config),
        "data": {"path": os.path.basename(os.path.normpath(data_path)), "task": data.task, "description": data.description},
        "cells": compare_cells(data, config, log),
        "clipping": compare_clipping(data, config, log),
        "initializers": compare_initializers(data, config, log),
    }
    results["seconds"] = round(time.time() - start, 1)
    return results
