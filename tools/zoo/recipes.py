"""The zoo's training recipes (data) and their training: `python -m tools.zoo train NAME`.

A published model's recipe is its preset's `training_recipe` (the task
folder's `presets.json`, the one place it is kept); a recipe not published
yet is in `tools/zoo/recipes-unpublished.json` until `python -m tools.zoo
publish NAME` moves it into its preset.
"""

import copy
import json
import os
import time

from kerasrnn.atomic_files import write_text
from kerasrnn.zoo.index import read_index
from tools.zoo.repository import MODELS_DIR, RUNS_DIR, UNPUBLISHED_RECIPES_FILE


def published_recipes():
    """The recipes of the published models: each preset's `training_recipe`, by model name.

    Example:

    >>> sorted({recipe["task"] for recipe in published_recipes().values()})
    ['char_lm', 'pos_tagger', 'sentiment']
    """
    return {entry["name"]: entry["training_recipe"] for entry in read_index()}


def read_unpublished_recipes(path=UNPUBLISHED_RECIPES_FILE):
    """The recipes not published yet (`tools/zoo/recipes-unpublished.json`); empty without that file.

    Example:

    >>> read_unpublished_recipes()["sentiment-imdb-bilstm-pretrained"]["pretrain"]["unlabeled"]
    'aclImdb_v1_unsup.tar.gz'
    """
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as file:
        try:
            return json.load(file)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: malformed JSON at line {error.lineno}: {error.msg}") from error


def recipe(name, unpublished_path=UNPUBLISHED_RECIPES_FILE):
    """One recipe by name, published or not; an unknown name lists the known ones.

    Args:
        name: the recipe's (and model's) name.
        unpublished_path: the recipes not published yet.

    Example:

    >>> recipe("pos-ewt-bilstm")["task"]
    'pos_tagger'
    >>> recipe("sentiment-imdb-bilstm-pretrained")["builder_options"]["cell"]
    'lstm'
    """
    recipes = {**read_unpublished_recipes(unpublished_path), **published_recipes()}
    if name not in recipes:
        raise ValueError(f"No recipe {name!r}. Known: {', '.join(sorted(recipes))}")
    return recipes[name]


def write_unpublished_recipes(recipes, path=UNPUBLISHED_RECIPES_FILE):
    """Write unpublished recipes one line per recipe, in order; no recipes left removes the file.

    Example:

    >>> write_unpublished_recipes(read_unpublished_recipes())  # doctest: +SKIP
    """
    if not recipes:
        if os.path.exists(path):
            os.remove(path)
        return
    lines = [f"  {json.dumps(name)}: {json.dumps(plan)}" for name, plan in recipes.items()]
    write_text(path, "{\n" + ",\n".join(lines) + "\n}\n")


def retire_unpublished_recipe(name, path=UNPUBLISHED_RECIPES_FILE):
    """Drop a just-published recipe from the unpublished ones: its preset's `training_recipe` holds it now.

    Returns:
        True if it was an unpublished recipe; False otherwise.

    Example:

    >>> retire_unpublished_recipe("sentiment-imdb-bilstm-pretrained")  # doctest: +SKIP
    True
    """
    unpublished = read_unpublished_recipes(path)
    if name not in unpublished:
        return False
    del unpublished[name]
    write_unpublished_recipes(unpublished, path)
    return True


def train_recipe(name, shared_data, runs_dir=RUNS_DIR, epochs=None, strategy=None, zoo_dir=MODELS_DIR,
                 overwrite=False):
    """Train (or resume training) the zoo model `name` into `runs_dir/name`.

    Args:
        name: a recipe name (`recipe(name)`: a preset's or an unpublished one).
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
    (see `tools.zoo.ensembles`) and returns its validation metrics.
    """
    from kerasrnn.training.trainer import train

    plan = recipe(name)
    out_dir = os.path.join(runs_dir, name)
    if "average_of" in plan:
        from tools.zoo.ensembles import build_average

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
