"""CoNLL-U treebanks (Universal Dependencies): words and their POS tags.

Comment lines (`#`), multiword-token lines (`1-2`) and empty nodes (`1.1`)
are skipped, so every sentence is the sequence of syntactic words that UD
scores tagging on.
"""

import re

from kerasrnn.data.input_checks import MAX_SENTENCE_TOKENS, file_not_utf8, treebank_sentence_too_long
from kerasrnn.validation import check_positive_int

TAG_COLUMNS = {"upos": 3, "xpos": 4}
_WORD_ID = re.compile(r"^[1-9]\d*$")
_SKIPPED_ID = re.compile(r"^(\d+-\d+|\d+\.\d+)$")


def read_conllu(path, tag_column="upos", max_sentence_tokens=MAX_SENTENCE_TOKENS):
    """Read the sentences of a CoNLL-U file as `(words, tags)` pairs.

    Args:
        path: a `.conllu` file (UTF-8).
        tag_column: `"upos"` (column 4) or `"xpos"` (column 5).
        max_sentence_tokens: a sentence with more words is refused (reading
            stops there): in a treebank it is a broken file, e.g. one whose
            blank lines were lost (see `kerasrnn.data.input_checks`; EWT's
            longest sentence has 159 words).

    Returns:
        A list of `(words, tags)` tuples of equal-length lists of str.

    Raises:
        ValueError: on a malformed line, a sentence over `max_sentence_tokens`
            or bytes that are not UTF-8, naming the file and line number.

    Example:

    >>> sentences = read_conllu("../shared/data/ud-english-ewt/en_ewt-ud-dev.conllu")
    >>> len(sentences)
    2001
    """
    if tag_column not in TAG_COLUMNS:
        raise ValueError(f"`tag_column` must be 'upos' or 'xpos'. Received: tag_column={tag_column!r}")
    column = TAG_COLUMNS[tag_column]
    max_sentence_tokens = check_positive_int("max_sentence_tokens", max_sentence_tokens)
    try:
        sentences = _read_sentences(path, column, tag_column, max_sentence_tokens)
    except UnicodeDecodeError:
        raise file_not_utf8(path) from None
    if not sentences:
        raise ValueError(f"{path}: no sentences found in this CoNLL-U file.")
    return sentences


def _read_sentences(path, column, tag_column, max_sentence_tokens):
    sentences, words, tags = [], [], []
    first_line = None  # the current sentence's first line (a comment or a token), for messages
    with open(path, encoding="utf-8") as file:
        for line_number, line in enumerate(file, start=1):
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                if words:
                    sentences.append((words, tags))
                    words, tags = [], []
                first_line = None
                continue
            first_line = first_line or line_number
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
            if len(words) == max_sentence_tokens:
                raise treebank_sentence_too_long(path, first_line, max_sentence_tokens)
            words.append(fields[1])
            tags.append(fields[column])
    if words:
        sentences.append((words, tags))
    return sentences
