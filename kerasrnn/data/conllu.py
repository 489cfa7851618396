"""CoNLL-U treebanks (Universal Dependencies): words and their POS tags.

Comment lines (`#`), multiword-token lines (`1-2`) and empty nodes (`1.1`)
are skipped, so every sentence is the sequence of syntactic words that UD
scores tagging on.
"""

import re

TAG_COLUMNS = {"upos": 3, "xpos": 4}
_WORD_ID = re.compile(r"^[1-9]\d*$")
_SKIPPED_ID = re.compile(r"^(\d+-\d+|\d+\.\d+)$")


def read_conllu(path, tag_column="upos"):
    """Read the sentences of a CoNLL-U file as `(words, tags)` pairs.

    Args:
        path: a `.conllu` file.
        tag_column: `"upos"` (column 4) or `"xpos"` (column 5).

    Returns:
        A list of `(words, tags)` tuples of equal-length lists of str.

    Raises:
        ValueError: on a malformed line, naming the file and line number.

    Example:

    >>> sentences = read_conllu("../shared/data/ud-english-ewt/en_ewt-ud-dev.conllu")
    >>> len(sentences)
    2001
    """
    if tag_column not in TAG_COLUMNS:
        raise ValueError(f"`tag_column` must be 'upos' or 'xpos'. Received: tag_column={tag_column!r}")
    column = TAG_COLUMNS[tag_column]
    sentences, words, tags = [], [], []
    with open(path, encoding="utf-8") as file:
        for line_number, line in enumerate(file, start=1):
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                if words:
                    sentences.append((words, tags))
                    words, tags = [], []
                continue
            if line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 10:
                raise ValueError(
                    f"{path}:{line_number}: expected 10 tab-separated CoNLL-U fields, found {len(fields)}"
                )
            if _SKIPPED_ID.match(fields[0]):
                continue
            if not _WORD_ID.match(fields[0]):
                raise ValueError(f"{path}:{line_number}: invalid token ID {fields[0]!r}")
            if not fields[1] or not fields[column] or fields[column] == "_" and tag_column == "upos":
                raise ValueError(f"{path}:{line_number}: missing word form or {tag_column.upper()} tag")
            words.append(fields[1])
            tags.append(fields[column])
    if words:
        sentences.append((words, tags))
    if not sentences:
        raise ValueError(f"{path}: no sentences found in this CoNLL-U file.")
    return sentences
