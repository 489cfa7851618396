"""How the zoo's models are made: training recipes (data) and publishing measured entries."""

import copy
import json
import os
import platform
import time

from kerasrnn.atomic_files import write_text
from kerasrnn.zoo.download import sha256_of
from kerasrnn.zoo.download import DEFAULT_ZOO_DIR
from kerasrnn.zoo.index import read_index, write_index

RECIPES_FILE = os.path.join(DEFAULT_ZOO_DIR, "recipes.json")
# Recipes not published yet: `zoo train` and `zoo publish` find them, and
# publishing one moves it into recipes.json, which lists exactly the models
# of index.json (the count the CI's wheel check and the tests compare).
UNPUBLISHED_RECIPES_FILE = os.path.join(DEFAULT_ZOO_DIR, "recipes-unpublished.json")
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


def read_unpublished_recipes(path=UNPUBLISHED_RECIPES_FILE):
    """The recipes not published yet (`models/recipes-unpublished.json`); empty without that file.

    Example:

    >>> read_unpublished_recipes()["sentiment-imdb-bilstm-pretrained"]["pretrain"]["unlabeled"]
    'aclImdb_v1_unsup.tar.gz'
    """
    return read_recipes(path) if os.path.exists(path) else {}


def recipe(name, path=RECIPES_FILE, unpublished_path=UNPUBLISHED_RECIPES_FILE):
    """One recipe by name, published or not; an unknown name lists the known ones.

    Args:
        name: the recipe's (and model's) name.
        path: the published models' recipes.
        unpublished_path: the recipes not published yet.

    Example:

    >>> recipe("pos-ewt-bilstm")["task"]
    'pos_tagger'
    >>> recipe("sentiment-imdb-bilstm-pretrained")["builder_options"]["cell"]
    'lstm'
    """
    recipes = {**read_unpublished_recipes(unpublished_path), **read_recipes(path)}
    if name not in recipes:
        raise ValueError(f"No recipe {name!r}. Known: {', '.join(sorted(recipes))}")
    return recipes[name]


def write_recipes(recipes, path):
    """Write recipes as `models/recipes.json` holds them: one line per recipe, in order.

    Example:

    >>> write_recipes(read_recipes(), RECIPES_FILE)  # doctest: +SKIP
    """
    lines = [f"  {json.dumps(name)}: {json.dumps(plan)}" for name, plan in recipes.items()]
    write_text(path, "{\n" + ",\n".join(lines) + "\n}\n")


def promote_recipe(name, zoo_dir=DEFAULT_ZOO_DIR):
    """Move a just-published recipe from `recipes-unpublished.json` into `recipes.json` of `zoo_dir`.

    Returns:
        True if it moved; False if it was not an unpublished recipe there.

    Example:

    >>> promote_recipe("sentiment-imdb-bilstm-pretrained")  # doctest: +SKIP
    True
    """
    unpublished_path = os.path.join(zoo_dir, os.path.basename(UNPUBLISHED_RECIPES_FILE))
    unpublished = read_unpublished_recipes(unpublished_path)
    if name not in unpublished:
        return False
    recipes_path = os.path.join(zoo_dir, os.path.basename(RECIPES_FILE))
    recipes = read_recipes(recipes_path) if os.path.exists(recipes_path) else {}
    write_recipes({**recipes, name: unpublished.pop(name)}, recipes_path)
    if unpublished:
        write_recipes(unpublished, unpublished_path)
    else:
        os.remove(unpublished_path)
    return True


def train_recipe(name, shared_data, runs_dir=RUNS_DIR, epochs=None, strategy=None, zoo_dir=DEFAULT_ZOO_DIR,
                 overwrite=False):
    """Train (or resume training) the zoo model `name` into `runs_dir/name`.

    Args:
        name: a recipe name from `models/recipes.json`.
        shared_data: the folder holding the real data sets.
        runs_dir: where runs are written (resumable, not committed).
        epochs: override the recipe's epoch count.
        strategy: passed to `kerasrnn.training.train` (a name or a `tf.distribute.Strategy`).
        zoo_dir: where an averaging recipe's members are published.
        overwrite: replace a finished (or differently configured) run in
            `runs_dir/name` instead of refusing it, as `kerasrnn train
            --overwrite` does; a recipe's pretraining is kept.

    Example:

    >>> train_recipe("pos-ewt-bilstm", "../shared/data")  # doctest: +SKIP

    A recipe with `average_of` trains nothing: it averages published models
    (see `kerasrnn.zoo.ensembles`) and returns its validation metrics.
    """
    from kerasrnn.training.trainer import train

    plan = recipe(name)
    out_dir = os.path.join(runs_dir, name)
    if "average_of" in plan:
        from kerasrnn.zoo.ensembles import build_average

        return build_average(name, plan, shared_data, out_dir, zoo_dir)["validation"]
    started = time.time()
    initial_weights = None
    if "pretrain" in plan:
        initial_weights = pretrain_recipe(plan, shared_data, out_dir)
    config = training_config(plan, shared_data, out_dir, epochs=epochs or plan["epochs"],
                             initial_weights=initial_weights, overwrite=overwrite)
    options = config.train_options()
    if strategy is not None:
        options["strategy"] = strategy  # a name, or a tf.distribute.Strategy (not plain data: not in the config)
    metrics = train(config.task, config.data_path, config.out_dir, **options)
    from kerasrnn.training.distribute import is_chief, make_strategy

    if not is_chief(make_strategy(strategy)):  # the same (cached) strategy `train` used
        return metrics  # only the chief writes the run's files
    timing_path = os.path.join(out_dir, "training_seconds.json")
    previous = json.load(open(timing_path)) if os.path.exists(timing_path) and not overwrite else []
    # A resumed run adds its own wall time to the earlier sessions'.
    write_text(timing_path, json.dumps(previous + [round(time.time() - started, 1)]))
    return metrics


def pretrain_recipe(plan, shared_data, run_dir):
    """Run a recipe's `pretrain` step (resumable) into `run_dir/pretraining`; return its weights file.

    The step's options are the task's `pretrain` arguments (for the
    sentiment classifier: a language model on the training reviews, see
    `kerasrnn.tasks.sentiment.pretraining`); its `unlabeled` file (IMDB's
    unlabeled reviews) is found in `shared_data`, as the recipe's `data` is.
    Its time is counted in `pretraining/epochs.csv` and added to the
    recipe's training time; `pretraining/pretraining.json` records its
    corpus, epochs and held-out loss for the index (see `pretraining_summary`).

    Example:

    >>> plan = {**recipe("sentiment-imdb-bigru"), "pretrain": {"epochs": 3, "num_sampled": 512}}
    >>> pretrain_recipe(plan, "../shared/data", "/tmp/runs/pretrained-bigru")  # doctest: +SKIP
    """
    from kerasrnn.tasks.registry import get_task

    step = dict(plan["pretrain"])
    if "unlabeled" in step:
        step["unlabeled"] = os.path.join(shared_data, step["unlabeled"])
    # The same reading of the recipe as the training it starts: the same network from the same prepared data.
    config = training_config(plan, shared_data, run_dir)
    return get_task(plan["task"]).pretraining().pretrain(
        config.data_path,
        os.path.join(run_dir, "pretraining"),
        builder_options=config.builder_options,
        data_options=config.data_options,
        batch_size=config.batch_size,
        seed=config.seed,
        verbose=config.verbose,
        **step,
    )


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


# The recipe keys that are `TrainingConfig` fields of the same name; a recipe leaves the rest to the config.
RECIPE_TRAINING_KEYS = (
    "builder_options", "data_options", "epochs", "batch_size", "seed", "keep_best", "patience",
    "learning_rate_patience", "learning_rate_factor",
)


def training_config(plan, shared_data, out_dir, **options):
    """The `TrainingConfig` of a recipe: its options, and the task's defaults for what it leaves out.

    Its data files (`data`, and `unlabeled` among its `training_options`)
    are named inside `shared_data`; progress is logged one line per epoch.

    Args:
        plan: a recipe (`recipe(name)`).
        shared_data: the folder holding the real data sets.
        out_dir: the run folder.
        **options: more `TrainingConfig` fields (e.g. `epochs`, `initial_weights`).

    Example:

    >>> plan = {"task": "pos_tagger", "data": "ud-english-ewt", "epochs": 3}
    >>> config = training_config(plan, "../shared/data", "runs/pos")
    >>> config.data_path, config.epochs, config.batch_size
    ('../shared/data/ud-english-ewt', 3, 32)
    """
    from kerasrnn.training.config import TrainingConfig

    # A recipe's `training_options` are the task's own `train` options (the
    # sentiment classifier's `adversarial`, `adversarial_epsilon`, `unlabeled`).
    task_options = dict(plan.get("training_options", {}))
    if task_options.get("unlabeled"):
        task_options["unlabeled"] = os.path.join(shared_data, task_options["unlabeled"])
    config = {
        "task": plan["task"],
        "data_path": os.path.join(shared_data, plan["data"]),
        "out_dir": out_dir,
        "task_options": task_options,
        "verbose": 2,
        **{key: copy.deepcopy(plan[key]) for key in RECIPE_TRAINING_KEYS if key in plan},
        **options,
    }
    return TrainingConfig.from_dict(config).with_task_defaults()


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


def publish(name, shared_data, runs_dir=RUNS_DIR, zoo_dir=DEFAULT_ZOO_DIR, update_presets=True):
    """Copy a finished run into a zoo folder and write its index entry with measured scores.

    The folder (`NAME.keras` beside `index.json`) is what a static web
    server or a Hugging Face model repository serves as it is. The score
    comes from evaluating the copied artifact on the official test split,
    the same computation `kerasrnn zoo evaluate` performs; with
    `update_presets` the entry also goes into the task's `presets.json`,
    the index shipped with the package.

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
        from kerasrnn.zoo.ensembles import read_average

        averaged = read_average(run_dir)
        # Not a builder's spec: the spec of each averaged model.
        spec, cell = {"task": averaged["task"], "average_of": averaged["member_specs"]}, averaged["cell"]
    else:
        _, spec = load_trained(run_dir)
        cell = spec.get("cell", "lstm")
    pretraining = pretraining_summary(run_dir)
    file_name = f"{name}.keras"
    target = os.path.join(zoo_dir, file_name)
    os.makedirs(zoo_dir, exist_ok=True)
    # `kerasrnn train` saved it without optimizer state, so it is only as large as its weights.
    shutil.copyfile(os.path.join(run_dir, "model.keras"), target)
    from kerasrnn.zoo.api import load

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
        "training_command": f"kerasrnn zoo train {name} && kerasrnn zoo publish {name}",
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
        "file": file_name,
        "size_bytes": os.path.getsize(target),
        "sha256": sha256_of(target),
    }
    _add_entry(entry, os.path.join(zoo_dir, "index.json"))
    if update_presets:
        _add_entry(entry, get_task(spec["task"]).presets_path())
    promote_recipe(name, zoo_dir)  # recipes.json keeps listing exactly the published models
    return entry


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
    of `training_seconds.json`, the wall time of each `kerasrnn zoo train`
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


def _add_entry(entry, path):
    entries = [existing for existing in read_index(path) if existing["name"] != entry["name"]]
    write_index(entries + [entry], path)


def remeasure_latency(name, zoo_dir=DEFAULT_ZOO_DIR):
    """Measure a published model's CPU latency again and update only that field.

    Latency is a timing, and a busy machine inflates it; this lets it be taken
    again on a quiet one without retraining, re-evaluating or rewriting the artifact.

    Example:

    >>> remeasure_latency("pos-ewt-bilstm")  # doctest: +SKIP
    """
    from kerasrnn.tasks.registry import get_task
    from kerasrnn.zoo.api import load

    path = os.path.join(zoo_dir, "index.json")
    entries = read_index(path)
    entry = next((entry for entry in entries if entry["name"] == name), None)
    if entry is None:
        raise ValueError(f"Zoo model {name!r} is not in {path}.")
    entry["cpu_latency_seconds"] = measure_latency(load(os.path.join(zoo_dir, entry["file"])))
    write_index(entries, path)
    _add_entry(entry, get_task(entry["task"]).presets_path())
    return entry
