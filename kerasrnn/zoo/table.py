"""The zoo table in the README, generated from the index so it cannot drift."""

import re

START, END = "<!-- zoo-table-start -->", "<!-- zoo-table-end -->"
SCORES = {
    "sentiment": ("accuracy", "IMDB test accuracy", lambda value: f"{100 * value:.2f}%"),
    "pos_tagger": ("upos_accuracy", "EWT test UPOS accuracy", lambda value: f"{100 * value:.2f}%"),
    "char_lm": ("nats_per_char", "validation nats/char", lambda value: f"{value:.3f}"),
}


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
    for entry in sorted(entries, key=lambda entry: (entry["task"], entry["name"])):
        key, metric, show = SCORES[entry["task"]]
        latency = entry.get("cpu_latency_seconds")
        seconds = entry.get("training_seconds")
        lines.append(
            f"| `{entry['name']}` | {entry['task']} | {entry['cell']} | {show(entry['metrics'][key])} ({metric}) "
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
