"""IMDB movie reviews (Maas et al., 2011) in their native aclImdb layout.

Reads `aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt` and the 50,000
unlabeled `aclImdb/train/unsup/<id>_0.txt` from an extracted folder or
straight from the `.tar.gz` (members are read, never extracted, so a hostile
archive cannot write outside anywhere). Labels: 0 = neg, 1 = pos, and
`UNLABELED` (-1) for the unlabeled reviews.
"""

import os
import re
import tarfile
import zlib

import numpy as np

from kerasrnn.data.input_checks import MAX_REVIEW_CHARACTERS, not_utf8, review_too_long
from kerasrnn.validation import check_positive_int

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
LABELS = ("neg", "pos")
UNLABELED = -1  # the label of the reviews of the "unsup" split
SPLITS = ("train", "test")  # the labeled splits, read by default
ALL_SPLITS = SPLITS + ("unsup",)
MAX_MEMBER_BYTES = 10 * 1024 * 1024  # the longest aclImdb review is ~14 KB
_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg|unsup)/(\d+)_(\d+)\.txt$")


def _split_of(match):
    # The unlabeled reviews sit in train/unsup/ but are a split of their own:
    # they are never mixed into the labeled training reviews.
    if match.group(2) == "unsup":
        return "unsup" if match.group(1) == "train" else None
    return match.group(1)


def load_imdb(path, splits=SPLITS, max_member_bytes=MAX_MEMBER_BYTES, seed=None,
              max_review_characters=MAX_REVIEW_CHARACTERS):
    """Read IMDB reviews and labels from an aclImdb folder or tarball.

    Args:
        path: the `aclImdb_v1.tar.gz` file (or the shared
            `aclImdb_v1_labeled.tar.gz`), the extracted `aclImdb` folder, or
            a folder that contains `aclImdb/`.
            For the unlabeled reviews: the shared `aclImdb_v1_unsup.tar.gz`,
            the official full tarball or an extracted folder.
        splits: which of `"train"`, `"test"` and `"unsup"` (the 50,000
            unlabeled reviews of `train/unsup/`) to read.
        max_member_bytes: a review file (or archive member) larger than
            this is refused with a `ValueError` naming it, before it is read:
            a small hostile archive cannot expand into gigabytes.
        seed: `None` (the default) orders each split by label, then review
            id, so all negative reviews come before the positive ones; an
            integer shuffles each split with that seed instead, as
            `model.fit(..., validation_split=...)` needs (it takes the last
            rows, unshuffled).
        max_review_characters: a review with more characters is refused with
            a `ValueError` naming its file (IMDB's longest has 14,282; see
            `kerasrnn.data.input_checks`). A review that is not UTF-8 is
            refused naming its file and the byte offset.

    Returns:
        A dict from split name to `(texts, labels)`: a list of str and an
        int32 array (`UNLABELED`, -1, for every "unsup" review).

    Example:

    >>> data = load_imdb("../shared/data/aclImdb_v1_labeled.tar.gz", splits=("test",))
    >>> len(data["test"][0]), data["test"][1][:3].tolist(), data["test"][1][-3:].tolist()
    (25000, [0, 0, 0], [1, 1, 1])
    >>> shuffled = load_imdb("../shared/data/aclImdb_v1_labeled.tar.gz", splits=("test",), seed=0)
    >>> sorted(shuffled["test"][0]) == sorted(data["test"][0]), shuffled["test"][1][:6].tolist()
    (True, [1, 1, 0, 1, 0, 1])
    >>> texts, labels = load_imdb("../shared/data/aclImdb_v1_unsup.tar.gz", splits=("unsup",))["unsup"]
    >>> len(texts), set(labels.tolist())
    (50000, {-1})
    """
    if isinstance(splits, str):
        raise ValueError(f"`splits` must be a tuple of split names, e.g. ({splits!r},). Received: {splits!r}")
    for split in splits:
        if split not in ALL_SPLITS:
            raise ValueError(f"`splits` may contain only 'train', 'test' and 'unsup'. Received: {split!r}")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ValueError(f"`seed` must be None or an integer. Received: {seed!r}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"IMDB data not found at {path!r}: give the aclImdb folder or tarball.")
    if not isinstance(max_member_bytes, int) or isinstance(max_member_bytes, bool) or max_member_bytes < 1:
        raise ValueError(f"`max_member_bytes` must be a positive integer. Received: {max_member_bytes!r}")
    max_review_characters = check_positive_int("max_review_characters", max_review_characters)
    reviews = {split: [] for split in splits}
    wanted = lambda match: _split_of(match) in reviews  # noqa: E731
    for match, data in _review_files(path, wanted, max_member_bytes):
        split, label, review_id = _split_of(match), match.group(2), int(match.group(3))
        label = UNLABELED if label == "unsup" else LABELS.index(label)
        member = match.group(0).lstrip("/")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise not_utf8(f"{path}: {member}", data, error, lines=False) from None
        if len(text) > max_review_characters:
            raise review_too_long(f"{path}: {member}", len(text), max_review_characters)
        reviews[split].append((label, review_id, text))
    result = {}
    for split, rows in reviews.items():
        if not rows:
            where = "aclImdb/train/unsup" if split == "unsup" else f"aclImdb/{split}/pos or aclImdb/{split}/neg"
            raise ValueError(f"{path}: no reviews found under {where}.")
        rows.sort()
        if seed is not None:
            rows = [rows[i] for i in np.random.default_rng(seed).permutation(len(rows))]
        result[split] = ([text for _, _, text in rows], np.array([row[0] for row in rows], "int32"))
    return result


def _too_large(path, name, size, limit):
    return ValueError(
        f"{path}: member {name!r} is {size} bytes, over the limit of {limit} bytes per review "
        "(max_member_bytes): not an aclImdb archive, or a hostile one."
    )


def _review_files(path, wanted, max_member_bytes=MAX_MEMBER_BYTES):
    """Yield `(name match, bytes)` for the wanted review files of a folder or tarball."""
    try:
        yield from _review_files_unguarded(path, wanted, max_member_bytes)
    except MemoryError:
        raise ValueError(f"{path}: out of memory reading the reviews; lower max_member_bytes.") from None


def _review_files_unguarded(path, wanted, max_member_bytes):
    if os.path.isdir(path):
        parent = os.path.dirname(os.path.abspath(path))
        for root, _, files in os.walk(path):
            for file_name in files:
                full = os.path.join(root, file_name)
                match = _MEMBER.search(os.path.relpath(full, parent).replace(os.sep, "/"))
                if match and wanted(match):
                    size = os.path.getsize(full)
                    if size > max_member_bytes:
                        raise _too_large(path, os.path.relpath(full, parent), size, max_member_bytes)
                    with open(full, "rb") as file:
                        yield match, file.read(max_member_bytes + 1)
        return
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                match = _MEMBER.search(member.name)
                if member.isfile() and match and wanted(match):
                    if member.size > max_member_bytes:
                        raise _too_large(path, member.name, member.size, max_member_bytes)
                    yield match, archive.extractfile(member).read(max_member_bytes + 1)
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


# tensorflow-datasets' names of the aclImdb splits.
TFDS_SPLITS = {"train": "train", "test": "test", "unsup": "unsupervised"}


def load_imdb_from_tfds(splits=SPLITS, data_dir=None):
    """Read IMDB through `tensorflow-datasets` (`imdb_reviews`), for users with internet.

    Returns the same dict as `load_imdb` (in tfds' order); "unsup" is tfds'
    `unsupervised` split, whose labels tfds gives as -1 (`UNLABELED`).

    Example:

    >>> data = load_imdb_from_tfds(splits=("test",))  # doctest: +SKIP
    """
    import tensorflow_datasets as tfds

    for split in splits:
        if split not in TFDS_SPLITS:
            raise ValueError(f"`splits` may contain only 'train', 'test' and 'unsup'. Received: {split!r}")
    result = {}
    for split in splits:
        rows = tfds.as_numpy(tfds.load("imdb_reviews", split=TFDS_SPLITS[split], as_supervised=True, data_dir=data_dir))
        texts, labels = [], []
        for text, label in rows:
            texts.append(text.decode("utf-8"))
            labels.append(int(label))
        result[split] = (texts, np.array(labels, "int32"))
    return result
