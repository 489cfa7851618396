"""What kind of data set a `--data` path holds, from its first bytes: archive, treebank, text or folder.

Each task's `data` module says which kinds it reads (`check_data_kind`), so
a data set of the wrong kind is refused in one line before it is read,
instead of being scored as something else (a CoNLL-U file read as prose by
the char LM, say). Only the start of a file is read: a multi-gigabyte file
costs no more than a small one.

Example:

>>> data_kind("../shared/data/ud-english-ewt/en_ewt-ud-test.conllu")
'conllu'
>>> data_kind("../shared/data/tinyshakespeare/input.txt"), data_kind("../shared/data/aclImdb_v1_labeled.tar.gz")
('text', 'archive')
"""

import codecs
import glob
import os
import re

# Enough lines to tell a treebank from prose, and to read past a UTF-8 BOM and comments.
SNIFF_BYTES = 64 * 1024
# What each kind is, for people: the phrase after "is" in an error.
DESCRIPTIONS = {
    "archive": "a compressed or tar archive (such as IMDB's aclImdb tarball)",
    "aclimdb": "an aclImdb folder (IMDB reviews)",
    "conllu": "a CoNLL-U treebank (tab-separated token lines)",
    "text": "a plain text file",
    "folder": "a folder with neither aclImdb/ nor *.conllu files in it",
    "binary": "a binary file, not UTF-8 text",
    "empty": "an empty file",
}
# gzip, bzip2, xz and zip; a plain tar is recognized by its `ustar` header below.
_ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"PK\x03\x04")
_CONLLU_ID = re.compile(r"^[1-9]\d*(?:-\d+|\.\d+)?$")


def _looks_like_conllu(text):
    # A treebank's token lines have 10 tab-separated fields and start with a
    # token id; prose lines almost never do. The last line may be cut short.
    lines = [line for line in text.splitlines()[:-1] if line.strip() and not line.startswith("#")][:20]
    return bool(lines) and all(
        len(fields) == 10 and _CONLLU_ID.match(fields[0]) for fields in (line.split("\t") for line in lines)
    )


def data_kind(path):
    """The kind of data set at `path`: one of the keys of `DESCRIPTIONS`.

    A file is an `"archive"` (gzip, bzip2, xz, zip or tar), a `"conllu"`
    treebank (a `.conllu` name, or token lines of 10 tab-separated fields),
    `"text"` (other UTF-8), `"binary"` or `"empty"`; a folder is `"aclimdb"`
    (it is, or holds, `aclImdb/`), `"conllu"` (it holds `*.conllu` files) or
    `"folder"`.

    Args:
        path: an existing file or folder.

    Returns:
        The kind, as a string.

    Raises:
        FileNotFoundError: `path` does not exist.

    Example:

    >>> data_kind("../shared/data/ud-english-ewt")
    'conllu'
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"--data: {path!r} does not exist.")
    if os.path.isdir(path):
        name = os.path.basename(os.path.normpath(path))
        if os.path.isdir(os.path.join(path, "aclImdb")) or (
            name == "aclImdb" and any(os.path.isdir(os.path.join(path, split)) for split in ("train", "test"))
        ):
            return "aclimdb"
        if glob.glob(os.path.join(path, "*.conllu")):
            return "conllu"
        return "folder"
    with open(path, "rb") as file:
        head = file.read(SNIFF_BYTES)
    if not head:
        return "empty"
    if head.startswith(_ARCHIVE_MAGIC) or head[257:262] == b"ustar":
        return "archive"
    try:
        # Incremental: a multi-byte character cut at the end of `head` is not an error.
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        return "binary"
    if "\x00" in text:
        return "binary"
    if path.endswith(".conllu") or _looks_like_conllu(text):
        return "conllu"
    return "text"


def check_data_kind(path, accepted, task_name, expected):
    """Refuse a data set whose kind is not in `accepted`, with one line naming what was expected.

    Args:
        path: the `--data` file or folder.
        accepted: the kinds (keys of `DESCRIPTIONS`) the task reads.
        task_name: the task, for the message.
        expected: what the task reads, for people (e.g. "a UTF-8 text file such as input.txt").

    Returns:
        The kind of `path`, or None when it does not exist (the task's
        reader then says so, naming what it looked for).

    Raises:
        ValueError: `path` is of another kind.

    Example:

    >>> check_data_kind("../shared/data/tinyshakespeare/input.txt", ("conllu",), "pos_tagger", "a CoNLL-U file")
    Traceback (most recent call last):
    ...
    ValueError: --data: '../shared/data/tinyshakespeare/input.txt' is a plain text file; the pos_tagger task reads a CoNLL-U file.
    """
    if not os.path.exists(path):
        return None
    kind = data_kind(path)
    if kind not in accepted:
        what = _not_text(path) if kind == "binary" else DESCRIPTIONS[kind]
        raise ValueError(f"--data: {path!r} is {what}; the {task_name} task reads {expected}.")
    return kind


def _not_text(path):
    # Where the first bytes stop being UTF-8 text, so that a file saved in another
    # encoding (Windows-1252, Latin-1) can be found and fixed.
    with open(path, "rb") as file:
        head = file.read(SNIFF_BYTES)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as error:
        return f"not UTF-8 text (byte offset {error.start}: {error.reason})"
    return f"a binary file, not text (a NUL byte at byte offset {head.index(bytes(1))})"
