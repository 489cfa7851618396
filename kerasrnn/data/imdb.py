"""IMDB movie reviews (Maas et al., 2011) in their native aclImdb layout.

Reads `aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt` from an extracted
folder or straight from the `.tar.gz` (members are read, never extracted, so
a hostile archive cannot write outside anywhere). Labels: 0 = neg, 1 = pos.
"""

import os
import re
import tarfile
import zlib

import numpy as np

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
LABELS = ("neg", "pos")
SPLITS = ("train", "test")
_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


def load_imdb(path, splits=SPLITS):
    """Read IMDB reviews and labels from an aclImdb folder or tarball.

    Args:
        path: the `aclImdb_v1.tar.gz` file (or the shared
            `aclImdb_v1_labeled.tar.gz`), the extracted `aclImdb` folder, or
            a folder that contains `aclImdb/`.
        splits: which of `"train"` and `"test"` to read.

    Returns:
        A dict from split name to `(texts, labels)`: a list of str and an
        int32 array, ordered by label then review id so runs are reproducible.

    Example:

    >>> data = load_imdb("../shared/data/aclImdb_v1_labeled.tar.gz", splits=("test",))
    >>> len(data["test"][0])
    25000
    """
    for split in splits:
        if split not in SPLITS:
            raise ValueError(f"`splits` may contain only 'train' and 'test'. Received: {split!r}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"IMDB data not found at {path!r}: give the aclImdb folder or tarball.")
    reviews = {split: [] for split in splits}
    for match, data in _review_files(path, wanted=lambda match: match.group(1) in reviews):
        split, label, review_id = match.group(1), match.group(2), int(match.group(3))
        reviews[split].append((LABELS.index(label), review_id, data.decode("utf-8")))
    result = {}
    for split, rows in reviews.items():
        if not rows:
            raise ValueError(f"{path}: no reviews found under aclImdb/{split}/pos or aclImdb/{split}/neg.")
        rows.sort()
        result[split] = ([text for _, _, text in rows], np.array([row[0] for row in rows], "int32"))
    return result


def _review_files(path, wanted):
    """Yield `(name match, bytes)` for the wanted review files of a folder or tarball."""
    if os.path.isdir(path):
        parent = os.path.dirname(os.path.abspath(path))
        for root, _, files in os.walk(path):
            for file_name in files:
                full = os.path.join(root, file_name)
                match = _MEMBER.search(os.path.relpath(full, parent).replace(os.sep, "/"))
                if match and wanted(match):
                    with open(full, "rb") as file:
                        yield match, file.read()
        return
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                match = _MEMBER.search(member.name)
                if member.isfile() and match and wanted(match):
                    yield match, archive.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise ValueError(f"{path}: not a readable aclImdb tar archive ({error}).") from error


def split_validation(texts, labels, fraction=0.1, seed=1337):
    """Carve a validation set out of the training reviews with a fixed seed.

    Returns `(train_texts, train_labels), (validation_texts, validation_labels)`.

    Example:

    >>> (train, labels), (held, held_labels) = split_validation(list("abcdefghij"), np.arange(10), 0.2)
    >>> len(train), len(held)
    (8, 2)
    """
    if not 0 < fraction < 1:
        raise ValueError(f"`fraction` must be in (0, 1). Received: fraction={fraction!r}")
    order = np.random.default_rng(seed).permutation(len(texts))
    cut = len(texts) - max(1, int(round(len(texts) * fraction)))
    pick = lambda indices: ([texts[i] for i in indices], np.asarray(labels)[indices])
    return pick(order[:cut]), pick(order[cut:])


def download_imdb(cache_dir=None, origin=IMDB_URL, file_hash=None):
    """Download the official tarball with `keras.utils.get_file` and return its path.

    Pass the result to `load_imdb`. Needs network access (or a mirror given as
    `origin`); the file is cached and not downloaded again.

    Example:

    >>> path = download_imdb()  # doctest: +SKIP
    >>> data = load_imdb(path)  # doctest: +SKIP
    """
    import keras

    return keras.utils.get_file(
        "aclImdb_v1.tar.gz", origin=origin, file_hash=file_hash, cache_dir=cache_dir
    )


def load_imdb_from_tfds(splits=SPLITS, data_dir=None):
    """Read IMDB through `tensorflow-datasets` (`imdb_reviews`), for users with internet.

    Returns the same dict as `load_imdb`.

    Example:

    >>> data = load_imdb_from_tfds(splits=("test",))  # doctest: +SKIP
    """
    import tensorflow_datasets as tfds

    result = {}
    for split in splits:
        rows = tfds.as_numpy(tfds.load("imdb_reviews", split=split, as_supervised=True, data_dir=data_dir))
        texts, labels = [], []
        for text, label in rows:
            texts.append(text.decode("utf-8"))
            labels.append(int(label))
        result[split] = (texts, np.array(labels, "int32"))
    return result
