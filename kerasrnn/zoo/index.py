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
REQUIRED_FIELDS = ("name", "task", "cell", "spec", "metrics")
# A model with a file of its own; an averaging entry has `average_of` instead (see `averaged_members`).
ARTIFACT_FIELDS = ("file", "sha256", "size_bytes")


def averaged_members(entry):
    """The names of the published models an averaging entry is assembled from at load time; None for one with a file.

    An averaging model (`kerasrnn.average_of`) holds no weights of its own, so
    its entry names its members (models of the same task in the same index)
    instead of a file: loading it loads each member, checked by its own sha256,
    and averages them, so the zoo stores and ships every weight once.

    Example:

    >>> averaged_members({"name": "m", "average_of": ["a", "b"]})
    ['a', 'b']
    >>> averaged_members({"name": "a", "file": "a.keras"}) is None
    True
    """
    members = entry.get("average_of")
    return None if members is None else list(members)


def _check_average(entry, by_name, where):
    """An averaging entry names two or more distinct models of its task in the same index, each with a file."""
    members = entry["average_of"]
    name = entry["name"]
    if not isinstance(members, list) or len(members) < 2 or not all(isinstance(member, str) for member in members):
        raise ValueError(f"{where}: model {name!r}: `average_of` must list two or more model names. Received: {members!r}")
    if len(set(members)) != len(members):
        raise ValueError(f"{where}: model {name!r}: `average_of` names a model twice: {members!r}")
    for member in members:
        listed = by_name.get(member)
        if listed is None:
            raise ValueError(f"{where}: model {name!r} averages {member!r}, which this index does not list.")
        if averaged_members(listed) is not None:
            raise ValueError(f"{where}: model {name!r} averages {member!r}, itself an average: members must have files.")
        if listed.get("task") != entry["task"]:
            raise ValueError(f"{where}: model {name!r} (task {entry['task']!r}) averages {member!r} "
                             f"of task {listed.get('task')!r}.")


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
        required = REQUIRED_FIELDS
        if not isinstance(entry, dict) or "average_of" not in entry:
            required += ARTIFACT_FIELDS
        missing = [field for field in required if not isinstance(entry, dict) or field not in entry]
        if missing:
            raise ValueError(f"{where}: model #{position} lacks {', '.join(missing)}.")
    by_name = {entry["name"]: entry for entry in entries}
    for entry in entries:
        if averaged_members(entry) is not None:
            _check_average(entry, by_name, where)
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
    >>> len(entries) > 0 and all("sha256" in entry or "average_of" in entry for entry in entries)
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
