"""How the zoo's models are made: training recipes (data) and publishing measured entries."""

import json
import os
import platform
import time

from kerasrnn.zoo.download import sha256_of
from kerasrnn.zoo.index import DEFAULT_ZOO_DIR, read_index, write_index

RECIPES_FILE = os.path.join(DEFAULT_ZOO_DIR, "recipes.json")
RUNS_DIR = os.path.join(DEFAULT_ZOO_DIR, "runs")


def read_recipes(path=RECIPES_FILE):
    """The training recipes: a dict from model name to task, data, options and epochs.

    Example:

    >>> recipes = read_recipes()
    >>> sorted({recipe["task"] for recipe in recipes.values()})
    ['char_lm', 'pos_tagger', 'sentiment']
    """
    with open(path, encoding="utf-8") as file:
        try:
            return json.load(file)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: malformed JSON at line {error.lineno}: {error.msg}") from error


def recipe(name, path=RECIPES_FILE):
    """One recipe by name; an unknown name lists the known ones.

    Example:

    >>> recipe("pos-ewt-bilstm")["task"]
    'pos_tagger'
    """
    recipes = read_recipes(path)
    if name not in recipes:
        raise ValueError(f"No recipe {name!r}. Known: {', '.join(sorted(recipes))}")
    return recipes[name]


def train_recipe(name, shared_data, runs_dir=RUNS_DIR, epochs=None):
    """Train (or resume training) the zoo model `name` into `runs_dir/name`.

    Args:
        name: a recipe name from `models/recipes.json`.
        shared_data: the folder holding the real data sets.
        runs_dir: where runs are written (resumable, not committed).
        epochs: override the recipe's epoch count.

    Example:

    >>> train_recipe("pos-ewt-bilstm", "../shared/data")  # doctest: +SKIP
    """
    from kerasrnn.training import train

    plan = recipe(name)
    out_dir = os.path.join(runs_dir, name)
    started = time.time()
    metrics = train(
        plan["task"],
        os.path.join(shared_data, plan["data"]),
        out_dir,
        builder_options=plan.get("builder_options", {}),
        data_options=plan.get("data_options", {}),
        epochs=epochs or plan["epochs"],
        batch_size=plan.get("batch_size", 32),
        seed=plan.get("seed", 1337),
        verbose=2,
        keep_best=plan.get("keep_best", False),
        patience=plan.get("patience"),
    )
    timing_path = os.path.join(out_dir, "training_seconds.json")
    previous = json.load(open(timing_path)) if os.path.exists(timing_path) else []
    # A resumed run adds its own wall time to the earlier sessions'.
    with open(timing_path, "w") as file:
        json.dump(previous + [round(time.time() - started, 1)], file)
    return metrics


def measure_latency(model, task, repeats=21):
    """Median seconds for one example through the saved model on this CPU.

    Example:

    >>> measure_latency(model, "sentiment")  # doctest: +SKIP
    """
    import numpy as np
    import tensorflow as tf

    example = {
        "sentiment": tf.constant(["This film was a pleasant surprise: sharp writing and a moving ending."]),
        "pos_tagger": tf.constant([["This", "film", "was", "a", "pleasant", "surprise", "."]]),
        "char_lm": tf.constant([list("ROMEO:\nWhat light through yonder window breaks?")]),
    }[task]
    forward = tf.function(lambda inputs: model(inputs, training=False))
    forward(example)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        forward(example)
        timings.append(time.perf_counter() - started)
    return float(np.median(timings))


def publish(name, shared_data, runs_dir=RUNS_DIR, zoo_dir=DEFAULT_ZOO_DIR):
    """Copy a finished run into the zoo and write its index entry with measured scores.

    The score comes from evaluating the copied artifact on the official test
    split, the same computation `kerasrnn zoo evaluate` performs.

    Example:

    >>> publish("pos-ewt-bilstm", "../shared/data")  # doctest: +SKIP
    """
    import keras

    from kerasrnn import __version__
    from kerasrnn.training import load_trained
    from kerasrnn.workflows import WORKFLOWS
    from kerasrnn.workflows.common import inference_copy

    plan = recipe(name)
    run_dir = os.path.join(runs_dir, name)
    model, spec = load_trained(run_dir)
    file_name = f"{name}.keras"
    target = os.path.join(zoo_dir, file_name)
    # Saved without optimizer state, so the artifact is only as large as its weights.
    inference_copy(model).save(target)
    model = keras.saving.load_model(target, safe_mode=True)
    metrics = WORKFLOWS[spec["task"]].evaluate(model, os.path.join(shared_data, plan["eval_data"]))
    timing_path = os.path.join(run_dir, "training_seconds.json")
    entry = {
        "name": name,
        "task": spec["task"],
        "cell": spec.get("cell", "lstm"),
        "spec": spec,
        "dataset": plan["dataset"],
        "split": plan["split"],
        "metrics": metrics,
        "parameters": int(model.count_params()),
        "training_command": f"kerasrnn zoo train {name} && kerasrnn zoo publish {name}",
        "training_recipe": plan,
        "training_seconds": sum(json.load(open(timing_path))) if os.path.exists(timing_path) else None,
        "cpu_latency_seconds": measure_latency(model, spec["task"]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "kerasrnn_version": __version__,
        "keras_version": keras.__version__,
        "file": file_name,
        "size_bytes": os.path.getsize(target),
        "sha256": sha256_of(target),
    }
    entries = [existing for existing in read_index(os.path.join(zoo_dir, "index.json")) if existing["name"] != name]
    write_index(entries + [entry], os.path.join(zoo_dir, "index.json"))
    return entry


def remeasure_latency(name, zoo_dir=DEFAULT_ZOO_DIR):
    """Measure a published model's CPU latency again and update only that field.

    Latency is a timing, and a busy machine inflates it; this lets it be taken
    again on a quiet one without retraining, re-evaluating or rewriting the artifact.

    Example:

    >>> remeasure_latency("pos-ewt-bilstm")  # doctest: +SKIP
    """
    import keras

    import kerasrnn.layers  # noqa: F401  registers the custom layers the saved model names

    path = os.path.join(zoo_dir, "index.json")
    entries = read_index(path)
    entry = next((entry for entry in entries if entry["name"] == name), None)
    if entry is None:
        raise ValueError(f"Zoo model {name!r} is not in {path}.")
    model = keras.saving.load_model(os.path.join(zoo_dir, entry["file"]), safe_mode=True)
    entry["cpu_latency_seconds"] = measure_latency(model, entry["task"])
    write_index(entries, path)
    return entry
