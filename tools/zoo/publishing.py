"""Publishing a trained recipe: `python -m tools.zoo publish NAME` measures it and writes its preset.

The entry (scores, parameters, size, sha256, latency, training time and
curve, versions, the recipe; an average names its members instead of a
file) goes into the task folder's `presets.json`; the
repository's `models/index.json` is then generated again from the presets
(`tools.zoo.models_index`).
"""

import json
import os
import platform

from kerasrnn.zoo.api import load
from kerasrnn.zoo.download import sha256_of
from kerasrnn.zoo.index import INDEX_FILE, read_index, write_index
from tools.zoo.latency import measure_latency
from tools.zoo.models_index import write_models_index
from tools.zoo.recipes import recipe, retire_unpublished_recipe
from tools.zoo.repository import MODELS_DIR, RUNS_DIR


def publish(name, shared_data, runs_dir=RUNS_DIR, zoo_dir=MODELS_DIR, update_presets=True):
    """Copy a finished run into a zoo folder and write its preset with measured scores.

    The folder (`NAME.keras` beside `index.json`) is what a static web
    server or a Hugging Face model repository serves as it is. The score
    comes from evaluating the copied artifact on the official test split,
    the same computation `kerasrnn zoo evaluate` performs. With
    `update_presets` (the default) the entry goes into the task's
    `presets.json`, the one registry of published models, the recipe leaves
    the unpublished ones, and `zoo_dir/index.json` is generated again from
    the presets; without, only `zoo_dir/index.json` gets the entry (a scratch
    zoo folder, as the tests use).

    Args:
        name: a recipe name (`tools.zoo.recipes.recipe`).
        shared_data: the folder holding the real data sets.
        runs_dir: where `python -m tools.zoo train` wrote the run.
        zoo_dir: the zoo folder for the artifact (default: the clone's `models/`).
        update_presets: write the task's `presets.json` and regenerate the index.

    Example:

    >>> publish("pos-ewt-bilstm", "../shared/data")  # doctest: +SKIP
    """
    import shutil

    import keras

    from kerasrnn import __version__
    from kerasrnn.training.evaluation import evaluate_on_data
    from kerasrnn.tasks.registry import get_task
    from kerasrnn.training.trainer import load_trained

    plan = recipe(name)
    run_dir = os.path.join(runs_dir, name)
    averaged = None
    if "average_of" in plan:
        from tools.zoo.ensembles import read_average

        averaged = read_average(run_dir)
        # Not a builder's spec: the spec of each averaged model.
        spec, cell = {"task": averaged["task"], "average_of": averaged["member_specs"]}, averaged["cell"]
    else:
        _, spec = load_trained(run_dir)
        cell = spec.get("cell", "lstm")
    pretraining = pretraining_summary(run_dir)
    os.makedirs(zoo_dir, exist_ok=True)
    if averaged:
        from tools.zoo.ensembles import load_published

        # No file: the entry names its members, and loading assembles them from
        # their published files (scored here exactly as users will load it).
        artifact = {"average_of": averaged["average_of"]}
        model = load_published({"name": name, **artifact}, zoo_dir)
    else:
        file_name = f"{name}.keras"
        target = os.path.join(zoo_dir, file_name)
        # `kerasrnn train` saved it without optimizer state, so it is only as large as its weights.
        shutil.copyfile(os.path.join(run_dir, "model.keras"), target)
        artifact = {"file": file_name, "size_bytes": os.path.getsize(target), "sha256": sha256_of(target)}
        model = load(target)
    metrics = evaluate_on_data(model, os.path.join(shared_data, plan["eval_data"]))
    curve = validation_curve(run_dir, get_task(spec["task"]).monitor[0])
    entry = {
        "name": name,
        "task": spec["task"],
        "cell": cell,
        "spec": spec,
        "dataset": plan["dataset"],
        "split": plan["split"],
        "metrics": metrics,
        "parameters": int(model.count_params()),
        "training_command": training_command(name),
        "training_recipe": plan,
        "training_seconds": training_seconds(run_dir),
        **({"validation_curve": curve} if curve else {}),
        **({"pretraining": pretraining} if pretraining else {}),
        **({"validation": averaged["validation"], "member_validation": averaged["member_validation"]}
           if averaged else {}),
        "cpu_latency_seconds": measure_latency(model),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "kerasrnn_version": __version__,
        "keras_version": keras.__version__,
        **artifact,
    }
    if update_presets:
        add_entry(entry, get_task(spec["task"]).presets_path())
        retire_unpublished_recipe(name)  # its preset's training_recipe holds it now
        write_models_index(zoo_dir)
    else:
        add_entry(entry, os.path.join(zoo_dir, INDEX_FILE))
    return entry


def training_command(name):
    """The commands that make a published model again, as its preset records them.

    Example:

    >>> training_command("pos-ewt-bilstm")
    'python -m tools.zoo train pos-ewt-bilstm && python -m tools.zoo publish pos-ewt-bilstm'
    """
    return f"python -m tools.zoo train {name} && python -m tools.zoo publish {name}"


def pretraining_summary(run_dir):
    """What a run's `pretrain` step did, for its index entry; None for a run without one.

    Read from `run_dir/pretraining/pretraining.json` (written by the
    sentiment pretraining after every epoch).

    Returns:
        A dict: `corpus` (reviews and tokens trained on and held out),
        `epochs`, `seconds`, each epoch's `held_out_sampled_loss`, and once
        finished the full-vocabulary `held_out_loss` and `held_out_perplexity`.

    Example:

    >>> pretraining_summary("models/runs/sentiment-imdb-bilstm-pretrained")  # doctest: +SKIP
    {'corpus': {...}, 'epochs': 3, 'seconds': 3600.0, 'held_out_perplexity': 180.2, ...}
    """
    path = os.path.join(run_dir, "pretraining", "pretraining.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as file:
        record = json.load(file)
    summary = {
        "corpus": record["corpus"],
        "epochs": len(record["epochs"]),
        "seconds": record["seconds"],
        "held_out_sampled_loss": [epoch["held_out_sampled_loss"] for epoch in record["epochs"]],
    }
    for key in ("held_out_loss", "held_out_perplexity"):
        if key in record:
            summary[key] = record[key]
    return summary


def validation_curve(run_dir, monitor):
    """The monitored validation score of every epoch of a run, from its `epochs.csv` (across resumes).

    Returns `{"metric": monitor, "epochs": [...], "values": [...]}` (epochs
    counted from 1; a run that began before `epochs.csv` existed starts
    later), or None for a run without `epochs.csv`.

    Example:

    >>> validation_curve("models/runs/pos-ewt-bilstm", "val_accuracy")  # doctest: +SKIP
    {'metric': 'val_accuracy', 'epochs': [1, 2, ...], 'values': [0.91, 0.93, ...]}
    """
    rows = [row for row in _epoch_rows(run_dir) if row.get(monitor)]
    if not rows:
        return None
    return {
        "metric": monitor,
        "epochs": [int(row["epoch"]) + 1 for row in rows],  # CSVLogger counts from 0
        "values": [round(float(row[monitor]), 6) for row in rows],
    }


def training_seconds(run_dir):
    """How long a run trained, in seconds, across every process that resumed it.

    When every row of the run's `epochs.csv` has an `epoch_seconds` (see
    `EpochLog`), this is their sum: a process killed between epochs still
    counts. Otherwise (a run begun before that column existed) it is the sum
    of `training_seconds.json`, the wall time of each `python -m tools.zoo train`
    process that finished; None when neither file says.

    Example:

    >>> training_seconds("models/runs/pos-ewt-bilstm")  # doctest: +SKIP
    7066.1
    """
    # A recipe with a `pretrain` step spent time in run_dir/pretraining too.
    rows = _epoch_rows(run_dir) + _epoch_rows(os.path.join(run_dir, "pretraining"))
    seconds = [row.get("epoch_seconds") for row in rows]
    if seconds and all(seconds):
        return round(sum(float(value) for value in seconds), 1)
    timing_path = os.path.join(run_dir, "training_seconds.json")
    if os.path.exists(timing_path):
        with open(timing_path) as file:
            return sum(json.load(file))
    return None


def _epoch_rows(run_dir):
    # The rows of the run's epochs.csv (written by `EpochLog`), or none without one.
    import csv

    path = os.path.join(run_dir, "epochs.csv")
    if not os.path.exists(path):
        return []
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def add_entry(entry, path):
    """Put `entry` into the index file `path` (a task's `presets.json` or a zoo folder's `index.json`), replacing its namesake.

    Example:

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "presets.json")
    >>> add_entry({"name": "m", "task": "t", "cell": "c", "spec": {}, "file": "m.keras", "sha256": "0",
    ...            "size_bytes": 1, "metrics": {}}, path)
    >>> [entry["name"] for entry in read_index(path)]
    ['m']
    """
    entries = [existing for existing in read_index(path) if existing["name"] != entry["name"]]
    write_index(entries + [entry], path)
