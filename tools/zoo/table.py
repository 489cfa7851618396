"""The zoo table in the README, generated from the index so it cannot drift."""

import re

from kerasrnn.atomic_files import write_text

START, END = "<!-- zoo-table-start -->", "<!-- zoo-table-end -->"


def markdown_table(entries, baselines=()):
    """A Markdown table of the zoo: task, cell, measured score, size, CPU latency.

    Each task's baseline (see `python -m tools.zoo baselines`) is a row of its own
    beside the task's models, so the gain of every model over it shows.

    Example:

    >>> print(markdown_table([]).splitlines()[0])
    | model | task | cell | score (metric) | parameters | size | CPU latency / example | training time |
    """
    lines = [
        "| model | task | cell | score (metric) | parameters | size | CPU latency / example | training time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    from kerasrnn.tasks.registry import get_task

    rows = [(entry["task"], 0, entry["name"], entry) for entry in entries]
    rows += [(baseline["task"], 1, baseline["name"], baseline) for baseline in baselines]
    for _, is_baseline, _, entry in sorted(rows, key=lambda row: row[:3]):
        score = get_task(entry["task"]).score
        if is_baseline:
            lines.append(
                f"| baseline: {entry['name']} | {entry['task']} | — | {score.format(entry['value'])} ({score.label}) "
                f"| | | | {entry['training_seconds']:.0f} s |"
            )
            continue
        latency = entry.get("cpu_latency_seconds")
        # An average has no file: it is assembled at load from its members' files.
        size = f"{entry['size_bytes'] / 1e6:.1f} MB" if "size_bytes" in entry else "none (its members')"
        seconds = entry.get("training_seconds")
        lines.append(
            f"| `{entry['name']}` | {entry['task']} | {entry['cell']} | {score.format(entry['metrics'][score.key])} ({score.label}) "
            f"| {entry.get('parameters', 0):,} | {size} "
            f"| {'' if latency is None else f'{1000 * latency:.1f} ms'} "
            f"| {_training_time(seconds, entry.get('pretraining'))} |"
        )
    return "\n".join(lines)


def _training_time(seconds, pretraining):
    """The training time column; a recipe's pretraining step shown apart from its fine-tuning.

    >>> _training_time(5400.0, {"seconds": 3600.0})
    '90 min (60 pretraining + 30 fine-tuning)'
    """
    # Apart because a pretraining can start other fine-tunings, which then cost only their own time.
    if seconds is None:
        return ""
    if not pretraining or not pretraining.get("seconds"):
        return f"{seconds / 60:.0f} min"
    before = pretraining["seconds"]
    return f"{seconds / 60:.0f} min ({before / 60:.0f} pretraining + {(seconds - before) / 60:.0f} fine-tuning)"


def update_readme(path, entries, baselines=()):
    """Replace the table between the zoo markers of a README with a fresh one.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "README.md")
    >>> _ = open(path, "w").write(f"x\\n{START}\\nold\\n{END}\\n")
    >>> update_readme(path, [])
    >>> "old" in open(path).read()
    False
    """
    with open(path, encoding="utf-8") as file:
        text = file.read()
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"{path}: no {START} ... {END} markers to put the zoo table between.")
    text = pattern.sub(lambda _: f"{START}\n{markdown_table(entries, baselines)}\n{END}", text)
    write_text(path, text)
