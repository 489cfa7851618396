"""Each task's simple baseline, measured on the same splits as the zoo, kept in `models/baselines.json`.

`python -m tools.zoo baselines` measures them; `python -m tools.zoo table` puts them beside the models.
"""

import json
import os
import platform

from kerasrnn.atomic_files import write_text
from tools.zoo.repository import BASELINES_FILE


def read_baselines(path=BASELINES_FILE):
    """The measured baselines, one dict per task (empty if none were measured).

    Example:

    >>> all("value" in baseline for baseline in read_baselines())
    True
    """
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as file:
        return json.load(file)["baselines"]


def measure_baselines(shared_data, tasks=None, path=BASELINES_FILE):
    """Measure the baselines of `tasks` (default: all) and merge them into `path`.

    Example:

    >>> measure_baselines("../shared/data", ["pos_tagger"])  # doctest: +SKIP
    """
    from kerasrnn.tasks.registry import all_tasks, get_task

    chosen = [get_task(name) for name in tasks] if tasks else all_tasks()
    measured = {baseline["task"]: baseline for baseline in read_baselines(path)}
    for task in chosen:
        result = task.baseline().measure_baseline(shared_data)
        measured[task.name] = {"task": task.name, **result, "machine": f"{platform.machine()}, {os.cpu_count()} cores"}
    text = json.dumps({"baselines": [measured[name] for name in sorted(measured)]}, indent=2, sort_keys=True)
    write_text(path, text + "\n")
    return [measured[task.name] for task in chosen]
