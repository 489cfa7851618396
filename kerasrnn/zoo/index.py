"""The zoo's presets: one JSON entry per pretrained model, read from each task's `presets.json`.

Each task folder's `presets.json` (package data, beside the task's code) is
the only registry of its published models, so `kerasrnn zoo list` works after
a plain `pip install`. A published zoo folder (the repository's `models/`, a
mirror, a Hugging Face model repository) serves the same entries as its
`index.json`, beside the artifacts; the repository's `models/index.json` is
generated from the presets by the maintainer tooling (`python -m tools.zoo
index`), never edited by hand.

Example:

>>> sorted({entry["task"] for entry in read_index()})
['char_lm', 'pos_tagger', 'sentiment']
"""

import json
import os

from kerasrnn.atomic_files import write_text

INDEX_FILE = "index.json"
REQUIRED_FIELDS = ("name", "task", "cell", "spec", "file", "sha256", "size_bytes", "metrics")


def parse_index(text, where):
    """Check the text of an index file; returns its list of model entries.

    Example:

    >>> parse_index('{"models": []}', "index.json")
    []
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}") from error
    entries = data.get("models") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{where}: expected an object with a list under 'models'.")
    for position, entry in enumerate(entries):
        missing = [field for field in REQUIRED_FIELDS if not isinstance(entry, dict) or field not in entry]
        if missing:
            raise ValueError(f"{where}: model #{position} lacks {', '.join(missing)}.")
    return entries


def packaged_index_paths():
    """The index files shipped with the package: every task's `presets.json`.

    Example:

    >>> sorted(os.path.basename(os.path.dirname(path)) for path in packaged_index_paths())
    ['char_lm', 'pos_tagger', 'sentiment']
    """
    from kerasrnn.tasks.registry import all_tasks

    return [task.presets_path() for task in all_tasks()]


def read_index(path=None):
    """The model entries of an index file, or (no path) the index shipped with the package.

    Example:

    >>> entries = read_index()
    >>> len(entries) > 0 and all("sha256" in entry for entry in entries)
    True
    """
    if path is None:
        return [entry for packaged in packaged_index_paths() for entry in read_index(packaged)]
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as file:
        return parse_index(file.read(), path)


def index_text(entries):
    """The text of an index file holding `entries`: sorted by name, indented JSON, keys sorted.

    Example:

    >>> print(index_text([]))
    {
      "models": []
    }
    <BLANKLINE>
    """
    return json.dumps({"models": sorted(entries, key=lambda entry: entry["name"])}, indent=2, sort_keys=True) + "\n"


def write_index(entries, path):
    """Write entries sorted by name, atomically, as indented JSON.

    Example:

    >>> import tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "index.json")
    >>> write_index([], target)
    >>> read_index(target)
    []
    """
    write_text(path, index_text(entries))


def find_entry(name, entries=None):
    """Return the index entry called `name`; an unknown name lists the nearest ones.

    Example:

    >>> find_entry("no-such-model", [])
    Traceback (most recent call last):
    ...
    ValueError: Unknown zoo model 'no-such-model'. Available: (none)
    """
    import difflib

    entries = read_index() if entries is None else entries
    for entry in entries:
        if entry["name"] == name:
            return entry
    names = sorted(entry["name"] for entry in entries)
    near = difflib.get_close_matches(str(name), names, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, near))}?" if near else ""
    raise ValueError(f"Unknown zoo model {name!r}.{hint} Available: {', '.join(names) or '(none)'}")
