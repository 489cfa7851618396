"""CPU latency of a zoo model: measured at publishing, and taken again alone (`python -m tools.zoo publish NAME --latency-only`)."""

import os
import time

from kerasrnn.zoo.index import find_entry
from tools.zoo.repository import MODELS_DIR


def measure_latency(model, repeats=21):
    """Median seconds for one example (the task's latency example) through a task model on this CPU.

    The time covers preprocessing and the network, as a served request does.

    Example:

    >>> measure_latency(model)  # doctest: +SKIP
    """
    import numpy as np
    import tensorflow as tf

    from kerasrnn.tasks.registry import task_of

    example = tf.constant(task_of(model).latency_example)
    forward = tf.function(lambda inputs: model(model.preprocessor(inputs), training=False))
    forward(example)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        forward(example)
        timings.append(time.perf_counter() - started)
    return float(np.median(timings))


def remeasure_latency(name, zoo_dir=MODELS_DIR):
    """Measure a published model's CPU latency again and update only that field of its preset.

    Latency is a timing, and a busy machine inflates it; this lets it be taken
    again on a quiet one without retraining, re-evaluating or rewriting the
    artifact. The task's `presets.json` gets the new figure and
    `zoo_dir/index.json` is generated again from the presets.

    Example:

    >>> remeasure_latency("pos-ewt-bilstm")  # doctest: +SKIP
    """
    from kerasrnn.tasks.registry import get_task
    from tools.zoo.ensembles import load_published
    from tools.zoo.models_index import write_models_index
    from tools.zoo.publishing import add_entry

    entry = dict(find_entry(name))
    entry["cpu_latency_seconds"] = measure_latency(load_published(entry, zoo_dir))
    add_entry(entry, get_task(entry["task"]).presets_path())
    write_models_index(zoo_dir)
    return entry
