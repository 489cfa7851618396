"""Zoo recipes that average published models: `"average_of": [NAME, ...]` in a recipe.

An averaging recipe trains nothing: `python -m tools.zoo train NAME` loads its
published members, checks that they read the recipe's data the same way
(one preprocessor), averages their probabilities (`kerasrnn.tasks.ensemble`)
and scores the average and every member on the recipe's validation split,
the same selection data the members' own training used. `python -m
tools.zoo publish NAME` then scores it on the test split as any recipe.
"""

import json
import os

from kerasrnn.atomic_files import save_model, write_text
from kerasrnn.zoo.index import read_index

ENSEMBLE_FILE = "ensemble.json"


def build_average(name, plan, shared_data, run_dir, zoo_dir):
    """Average the published members of the recipe `plan` into `run_dir`, scored on validation.

    Writes `model.keras`, `ensemble.json` (members, their specs and cells,
    validation metrics of the average and of each member) and
    `training_seconds.json` (the members' training time summed, when every
    member's is known: the average adds none).

    Args:
        name: the recipe's name.
        plan: the recipe: `task`, `data`, `average_of` and the members'
            `data_options`, `batch_size` and `seed`.
        shared_data: the folder holding the real data sets.
        run_dir: the folder to write.
        zoo_dir: the zoo folder the members are published in (`index.json`).

    Returns:
        The contents of `ensemble.json`.

    Example:

    >>> from tools.zoo.recipes import recipe
    >>> build_average("pos-ewt-average-bilstm-bigru", recipe("pos-ewt-average-bilstm-bigru"), "../shared/data",
    ...               "models/runs/pos-ewt-average-bilstm-bigru", "models")  # doctest: +SKIP
    """
    from kerasrnn.tasks.ensemble import published_average, same_preprocessing
    from kerasrnn.tasks.registry import get_task
    from kerasrnn.zoo.api import load

    members = plan["average_of"]
    if not isinstance(members, list) or len(members) < 2 or not all(isinstance(m, str) for m in members):
        raise ValueError(f"Recipe {name!r}: `average_of` must list two or more model names. Received: {members!r}")
    published = {entry["name"]: entry for entry in read_index(os.path.join(zoo_dir, "index.json"))}
    missing = [member for member in members if member not in published]
    if missing:
        raise ValueError(
            f"Recipe {name!r} averages {', '.join(missing)}, not published in {zoo_dir}: "
            "train and publish each member first (`python -m tools.zoo train M && python -m tools.zoo publish M`)."
        )
    wrong_task = [member for member in members if published[member]["task"] != plan["task"]]
    if wrong_task:
        raise ValueError(f"Recipe {name!r} (task {plan['task']!r}) averages models of another task: {wrong_task}")
    models = [load(os.path.join(zoo_dir, published[member]["file"])) for member in members]
    data = get_task(plan["task"]).data().prepare(
        os.path.join(shared_data, plan["data"]),
        batch_size=plan.get("batch_size", 32),
        seed=plan.get("seed", 1337),
        **plan.get("data_options", {}),
    )
    # The members must read the recipe's data as it is prepared here, or their
    # validation scores (and the average's) would be on other inputs.
    differing = [member for member, model in zip(members, models)
                 if not same_preprocessing(model.preprocessor, data.preprocessor)]
    if differing:
        raise ValueError(
            f"Recipe {name!r}: {', '.join(differing)} did not read {plan['data']!r} with the recipe's "
            "`data_options` (another vocabulary or label set); members must share the recipe's data preparation."
        )
    average = published_average(name, models)

    def validation(model):
        metrics = model.evaluate(data.validation, return_dict=True, verbose=0)
        return {f"val_{key}": float(value) for key, value in metrics.items()}

    description = {
        "task": plan["task"],
        "average_of": members,
        # One token ("lstm+gru"), as `kerasrnn zoo list` prints a column per field.
        "cell": "+".join(published[member]["cell"] for member in members),
        "member_specs": {member: published[member]["spec"] for member in members},
        "validation": validation(average),
        "member_validation": {member: validation(model) for member, model in zip(members, models)},
    }
    os.makedirs(run_dir, exist_ok=True)
    save_model(average, os.path.join(run_dir, "model.keras"))
    write_text(os.path.join(run_dir, ENSEMBLE_FILE), json.dumps(description, indent=2, sort_keys=True))
    seconds = [published[member].get("training_seconds") for member in members]
    if all(seconds):
        write_text(os.path.join(run_dir, "training_seconds.json"), json.dumps([round(sum(seconds), 1)]))
    return description


def load_published(entry, zoo_dir):
    """The model a published entry describes, from the files in `zoo_dir`: its own, or its members' averaged.

    An averaging entry has no file (`kerasrnn.zoo.index.averaged_members`):
    it is assembled from its members' files as `kerasrnn.zoo.load` does for users.

    Args:
        entry: an index entry (`file`, or `average_of`).
        zoo_dir: the zoo folder holding the files (and, for an average, the
            `index.json` that lists the members).

    Example:

    >>> from kerasrnn.zoo.index import find_entry
    >>> model = load_published(find_entry("pos-ewt-average-bilstm-bigru"), "models")  # doctest: +SKIP
    """
    from kerasrnn.tasks.ensemble import published_average
    from kerasrnn.zoo.api import load
    from kerasrnn.zoo.index import averaged_members, find_entry

    members = averaged_members(entry)
    if members is None:
        return load(os.path.join(zoo_dir, entry["file"]))
    published = read_index(os.path.join(zoo_dir, "index.json"))
    return published_average(entry["name"],
                             [load(os.path.join(zoo_dir, find_entry(member, published)["file"])) for member in members])


def read_average(run_dir):
    """The `ensemble.json` that `build_average` wrote into `run_dir`.

    Example:

    >>> read_average("models/runs/pos-ewt-average-bilstm-bigru")["average_of"]  # doctest: +SKIP
    ['pos-ewt-bilstm', 'pos-ewt-bigru']
    """
    path = os.path.join(run_dir, ENSEMBLE_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: run `python -m tools.zoo train` for the averaging recipe first.")
    with open(path, encoding="utf-8") as file:
        return json.load(file)
