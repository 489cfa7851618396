"""The task preprocessors' text → ids steps in plain Python, equal to the TensorFlow ones id for id.

The exported graphs take ids; these functions make them exactly as the
Keras task models' preprocessors do (`kerasrnn/tasks/*/preprocessor.py`,
`kerasrnn/layers/standardize.py`, `kerasrnn/layers/character_ids.py`),
including where TensorFlow's string ops differ from Python's:

- `tf.strings.lower` lowercases ASCII letters only (`"É"` stays `"É"`);
- RE2's `\\s` (in `<br\\s*/?>`) is `[\\t\\n\\f\\r ]`, without Python's `\\v`
  and Unicode spaces;
- `TextVectorization`'s whitespace split (`tf.strings.split`) splits on
  ASCII whitespace only, where Python's `str.split()` also splits on
  `\\x1c`-`\\x1f`, `\\x85` and Unicode spaces (the tagger's `predict_text`
  does use `str.split()`, so it does here too).

tests/test_portable_export.py checks them against the TensorFlow
preprocessors on the real test sets.
"""

import re

import numpy as np

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_LINE_BREAK = re.compile(r"<br[\t\n\f\r ]*/?>")
_PUNCTUATION = re.compile(r'([!?.,;:()"])')
_ASCII_WHITESPACE = re.compile(r"[\t\n\v\f\r ]+")
PADDING_ID, UNKNOWN_ID = 0, 1


def standardize_review(text):
    """`kerasrnn.layers.standardize_review` in Python: ASCII lowercase, `<br />` to a space, punctuation split off.

    Example:

    >>> standardize_review("Great<br /><br />FILM!")
    'great  film ! '
    """
    text = _LINE_BREAK.sub(" ", text.translate(_ASCII_LOWER))
    return _PUNCTUATION.sub(r" \1 ", text)


def split_ascii_whitespace(text):
    """`tf.strings.split(text)`: the non-empty runs between ASCII whitespace.

    Example:

    >>> split_ascii_whitespace(" a\\u00a0b\\tc ")
    ['a\\xa0b', 'c']
    """
    return [token for token in _ASCII_WHITESPACE.split(text) if token]


def index_of(vocabulary, first_id):
    """`{entry: id}` for a vocabulary whose entries get ids from `first_id` on.

    Example:

    >>> index_of(["a", "b"], 2)
    {'a': 2, 'b': 3}
    """
    return {entry: position for position, entry in enumerate(vocabulary, start=first_id)}


def pad(rows, minimum=1):
    """Right-pad lists of ids with 0 into an int32 array `(rows, longest)` (at least `minimum` columns).

    Example:

    >>> pad([[3, 4], [5]]).tolist()
    [[3, 4], [5, 0]]
    """
    width = max([len(row) for row in rows] + [minimum])
    padded = np.zeros((len(rows), width), "int32")
    for position, row in enumerate(rows):
        padded[position, : len(row)] = row
    return padded


def review_ids(texts, word_index, max_length):
    """`SentimentPreprocessor`: reviews → padded word ids `(batch, longest)`, cut to `max_length` tokens.

    Args:
        texts: the reviews (strings).
        word_index: `{word: id}` for the vocabulary's words (ids from 2; 1 is unknown).
        max_length: tokens kept per review.

    Example:

    >>> review_ids(["Good film!", "Good"], {"good": 2, "film": 3}, 400).tolist()
    [[2, 3, 1], [2, 0, 0]]
    """
    rows = []
    for text in texts:
        tokens = split_ascii_whitespace(standardize_review(text))[:max_length]
        rows.append([word_index.get(token, UNKNOWN_ID) for token in tokens])
    return pad(rows)


def sentence_ids(sentences, word_index, character_index=None, max_word_length=20):
    """`PosTaggerPreprocessor`: word lists → `token_ids` (and `char_ids`), right-padded.

    Args:
        sentences: lists of words.
        word_index: `{word: id}` (ids from 2; 1 is unknown, 0 padding).
        character_index: `{character: id}` (ids from 2) for a tagger with a
            character encoder, else None.
        max_word_length: characters kept per word, as `CharacterIds`.

    Returns:
        `{"token_ids": (batch, words)}`, with `"char_ids": (batch, words,
        characters)` padded to the longest (cut) word of the batch.

    Example:

    >>> ids = sentence_ids([["the", "cat"]], {"the": 2}, {"t": 2, "h": 3, "e": 4})
    >>> ids["token_ids"].tolist(), ids["char_ids"].tolist()
    ([[2, 1]], [[[2, 3, 4], [1, 1, 2]]])
    """
    token_ids = pad([[word_index.get(word, UNKNOWN_ID) for word in words] for words in sentences])
    result = {"token_ids": token_ids}
    if character_index is not None:
        spelled = [[[character_index.get(character, UNKNOWN_ID) for character in word[:max_word_length]]
                    for word in words] for words in sentences]
        longest = max([len(word) for words in spelled for word in words] + [0])
        char_ids = np.zeros(token_ids.shape + (longest,), "int32")
        for row, words in enumerate(spelled):
            for column, word in enumerate(words):
                char_ids[row, column, : len(word)] = word
        result["char_ids"] = char_ids
    return result


def character_ids(text, character_index):
    """`CharLanguageModelPreprocessor.encode`: a text → int32 ids, 0 for a character never seen.

    Example:

    >>> character_ids("abz", {"a": 1, "b": 2}).tolist()
    [1, 2, 0]
    """
    return np.array([character_index.get(character, 0) for character in text], "int32")
