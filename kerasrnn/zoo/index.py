"""The zoo's index: one JSON entry per pretrained model, read from `models/index.json`."""

import json
import os

# A fresh clone serves its own artifacts: the repository's models/ folder.
DEFAULT_ZOO_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "models")
INDEX_FILE = "index.json"
REQUIRED_FIELDS = ("name", "task", "cell", "spec", "file", "sha256", "size_bytes", "metrics")


def index_path(zoo_dir=None):
    """The path of the index file in `zoo_dir` (default: the repository's `models/`).

    Example:

    >>> os.path.basename(index_path())
    'index.json'
    """
    return os.path.join(zoo_dir or DEFAULT_ZOO_DIR, INDEX_FILE)


def read_index(path=None):
    """Read and check the zoo index; returns the list of model entries.

    Example:

    >>> entries = read_index()
    >>> all("sha256" in entry for entry in entries)
    True
    """
    path = path or index_path()
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as file:
        text = file.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}") from error
    entries = data.get("models") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected an object with a list under 'models'.")
    for position, entry in enumerate(entries):
        missing = [field for field in REQUIRED_FIELDS if not isinstance(entry, dict) or field not in entry]
        if missing:
            raise ValueError(f"{path}: model #{position} lacks {', '.join(missing)}.")
    return entries


def write_index(entries, path=None):
    """Write entries sorted by name, atomically, as indented JSON.

    Example:

    >>> import tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "index.json")
    >>> write_index([], target)
    >>> read_index(target)
    []
    """
    path = path or index_path()
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump({"models": sorted(entries, key=lambda entry: entry["name"])}, file, indent=2, sort_keys=True)
        file.write("\n")
    os.replace(temporary, path)


def find_entry(name, entries=None):
    """Return the index entry called `name`; an unknown name lists the available ones.

    Example:

    >>> find_entry("no-such-model", [])
    Traceback (most recent call last):
    ...
    ValueError: Unknown zoo model 'no-such-model'. Available: (none)
    """
    entries = read_index() if entries is None else entries
    for entry in entries:
        if entry["name"] == name:
            return entry
    available = ", ".join(sorted(entry["name"] for entry in entries)) or "(none)"
    raise ValueError(f"Unknown zoo model {name!r}. Available: {available}")
