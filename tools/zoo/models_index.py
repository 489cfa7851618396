"""`models/index.json`, generated from the task folders' `presets.json`: what a mirror of `models/` serves.

The presets are the one source; this file repeats them for static servers
and Hugging Face repositories, which serve `models/` as it is. It is never
edited by hand: `python -m tools.zoo index` writes it, and a test checks the
committed file is what `generated_index_text` gives.

Example:

>>> generated_index_text() == open(os.path.join(MODELS_DIR, INDEX_FILE), encoding="utf-8").read()
True
"""

import os

from kerasrnn.atomic_files import write_text
from kerasrnn.zoo.index import INDEX_FILE, index_text, read_index
from tools.zoo.repository import MODELS_DIR


def generated_index_text():
    """The text `models/index.json` must hold: every task's presets, sorted by name.

    Example:

    >>> '"models"' in generated_index_text()
    True
    """
    return index_text(read_index())


def write_models_index(zoo_dir=MODELS_DIR):
    """Write the generated index into `zoo_dir` (default: the clone's `models/`); returns its path.

    Example:

    >>> write_models_index()  # doctest: +SKIP
    '.../models/index.json'
    """
    path = os.path.join(zoo_dir, INDEX_FILE)
    write_text(path, generated_index_text())
    return path
