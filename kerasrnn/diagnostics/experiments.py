"""The three comparisons `kerasrnn diagnose` runs on real data.

1. Cells: SimpleRNN vs LSTM vs GRU, gradient flow over `seq_len` steps at
   initialization and after a short training.
2. Clipping: the gradient norm over training steps with no clipping,
   `clipnorm`, `clipvalue` and `global_clipnorm`, and how often each clipped.
3. Initialization: Glorot vs He vs orthogonal recurrent kernels, gradient
   flow and spectrum.

The data comes from the task that reads `--data` (each task folder's
`diagnosis.py`): Tiny Shakespeare (a text file) trains a character language
model; IMDB (the aclImdb folder or tarball) a many-to-one sentiment classifier.
"""

import dataclasses
import os
import time

import keras
import numpy as np

from kerasrnn.data.kinds import DESCRIPTIONS, data_kind
from kerasrnn.diagnostics.config import CELLS, DiagnoseConfig
from kerasrnn.diagnostics.flow import decay_rate, gradient_flow
from kerasrnn.diagnostics.monitor import GradientNormMonitor
from kerasrnn.diagnostics.spectrum import recurrent_spectrum
from kerasrnn.tasks.registry import all_tasks

CLIPPING_MODES = ("none", "clipnorm", "clipvalue", "global_clipnorm")
RECURRENT_INITIALIZERS = ("glorot_uniform", "he_normal", "orthogonal")


def load_diagnosis_data(path, config):
    """The diagnosis data of the task that reads `path`: a text file → char LM; IMDB → sentiment.

    Each task with a `diagnosis` module in its folder is asked in turn
    whether its data reader accepts the path (`check_data_path`, from the
    data set's first bytes); the first that does builds the data.

    Args:
        path: Tiny Shakespeare's `input.txt`, or IMDB's folder or `.tar.gz`.
        config: a `DiagnoseConfig`.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: no task that can be diagnosed reads it (one line naming what each reads).

    Example:

    >>> load_diagnosis_data("no/such/file", DiagnoseConfig())
    Traceback (most recent call last):
    ...
    FileNotFoundError: --data: 'no/such/file' does not exist (Tiny Shakespeare input.txt or IMDB).
    >>> load_diagnosis_data("../shared/data/ud-english-ewt/en_ewt-ud-test.conllu", DiagnoseConfig())
    Traceback (most recent call last):
    ...
    ValueError: --data: '../shared/data/ud-english-ewt/en_ewt-ud-test.conllu' is a CoNLL-U treebank (tab-separated token lines); `kerasrnn diagnose` reads the data of char_lm (a UTF-8 text file (first 90% trains, the last 10% is validated and scored)) or sentiment (...).
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"--data: {path!r} does not exist (Tiny Shakespeare input.txt or IMDB).")
    diagnosable = [task for task in all_tasks() if task.diagnosis() is not None]
    for task in diagnosable:
        try:
            task.data().check_data_path(path)
        except ValueError:
            continue
        return task.diagnosis().diagnosis_data(path, config)
    reads = " or ".join(f"{task.name} ({task.data_help.replace('%%', '%')})" for task in diagnosable)
    raise ValueError(f"--data: {path!r} is {DESCRIPTIONS[data_kind(path)]}; `kerasrnn diagnose` reads the data of {reads}.")


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
        "data": {"path": os.path.basename(os.path.normpath(data_path)), "task": data.task, "description": data.description,
                 "flow_note": data.flow_note},
        "cells": compare_cells(data, config, log),
        "clipping": compare_clipping(data, config, log),
        "initializers": compare_initializers(data, config, log),
    }
    results["seconds"] = round(time.time() - start, 1)
    return results
