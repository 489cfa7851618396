"""The zoo table in the README, generated from the index so it cannot drift."""

import re

START, END = "<!-- zoo-table-start -->", "<!-- zoo-table-end -->"


def markdown_table(entries):
    """A Markdown table of the zoo: task, cell, measured score, size, CPU latency.

    Example:

    >>> print(markdown_table([]).splitlines()[0])
    | model | task | cell | score (metric) | parameters | size | CPU latency / example | training time |
    """
    lines = [
        "| model | task | cell | score (metric) | parameters | size | CPU latency / example | training time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    from kerasrnn.tasks.registry import get_task

    for entry in sorted(entries, key=lambda entry: (entry["task"], entry["name"])):
        score = get_task(entry["task"]).score
        latency = entry.get("cpu_latency_seconds")
        seconds = entry.get("training_seconds")
        lines.append(
            f"| `{entry['name']}` | {entry['task']} | {entry['cell']} | {score.format(entry['metrics'][score.key])} ({score.label}) "
            f"| {entry.get('parameters', 0):,} | {entry['size_bytes'] / 1e6:.1f} MB "
            f"| {'' if latency is None else f'{1000 * latency:.1f} ms'} "
            f"| {'' if seconds is None else f'{seconds / 60:.0f} min'} |"
        )
    return "\n".join(lines)


def update_readme(path, entries):
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
    text = pattern.sub(lambda _: f"{START}\n{markdown_table(entries)}\n{END}", text)
    with open(path, "w", encoding="utf-8") as file:
        file.write(text)
