"""Bounds on the size of one input, and UTF-8 checks of input text, each failure one line naming the input.

A recurrent model's cost grows with the length of each input, and a batch
is padded to its longest one: before these bounds, one CoNLL-U file whose
blank lines were lost (a single 100,000-token "sentence") kept `kerasrnn
evaluate` busy for 191 s at 6.6 GB. So every input a user can send is
bounded, in `evaluate`, `train` and `predict` and in the models' Python API:

- a tagger sentence has at most `MAX_SENTENCE_TOKENS` tokens (words);
- a review has at most `MAX_REVIEW_CHARACTERS` characters (the classifier
  reads only its first `max_length` tokens, but the whole text is
  standardized and split first).

A longer input is refused, never cut or split: a sentence of thousands of
tokens in a treebank is a broken file (a lost blank line), and tagging or
classifying part of an input would report an answer for text the model never
read. The defaults pass every real input of the data sets the zoo is trained
and scored on, with room to spare (measured on ../shared/data):

- UD English EWT: the longest sentence has 159 tokens (train; dev 75, test 81);
- IMDB: the longest review has 14,282 characters (unsup; train 13,704, test 12,988).

Text that is not UTF-8 (a data file, an archive member, a command-line
argument) is refused with the byte offset of the first bad byte.
"""

from kerasrnn.validation import check_positive_int

# 6x EWT's longest sentence (159 tokens): room for other treebanks' long sentences; a 1,000-token
# sentence tags in about half a second with the zoo's BiLSTM on one CPU core.
MAX_SENTENCE_TOKENS = 1000
# 7x IMDB's longest review (14,282 characters); standardizing and splitting 100,000 characters takes milliseconds.
MAX_REVIEW_CHARACTERS = 100_000


def bound_attribute(name, default):
    """A model attribute holding a bound on one input: `default` until set; a non-positive value is refused.

    Not part of the model's config: a loaded model starts from the default.

    Args:
        name: the attribute's name (also in the refusal).
        default: its value until set.

    Example:

    >>> class Tagger:
    ...     max_sentence_tokens = bound_attribute("max_sentence_tokens", MAX_SENTENCE_TOKENS)
    >>> tagger = Tagger()
    >>> tagger.max_sentence_tokens
    1000
    >>> tagger.max_sentence_tokens = 0
    Traceback (most recent call last):
    ...
    ValueError: `max_sentence_tokens` must be a positive integer. Received: max_sentence_tokens=0
    """

    def get(model):
        return getattr(model, f"_{name}", default)

    def set(model, value):
        setattr(model, f"_{name}", check_positive_int(name, value))

    return property(get, set, doc=f"The bound on one input (default {default}); see `kerasrnn.data.input_checks`.")


class InputTooLongError(ValueError):
    """One input (a sentence, a review) is over its bound; the message names it, the bound and how to raise it.

    Example:

    >>> isinstance(sentence_too_long("Sentence 3", 1001, 1000), ValueError)
    True
    """


def sentence_too_long(where, tokens, limit):
    """The `InputTooLongError` for a tagger sentence given as text or words, of `tokens` tokens (more than `limit`).

    Args:
        where: the sentence, capitalized: `"Sentence 3"`, `"The sentence to tag"`.
        tokens: its number of tokens.
        limit: the bound.

    Example:

    >>> print(sentence_too_long("Sentence 0", 1500, 1000))
    Sentence 0 has 1500 tokens, over the limit of 1000 per sentence: tag one sentence at a time, or raise the limit (max_sentence_tokens; --max-sentence-tokens).
    """
    return InputTooLongError(
        f"{where} has {tokens} tokens, over the limit of {limit} per sentence: tag one sentence at a time, or "
        "raise the limit (max_sentence_tokens; --max-sentence-tokens)."
    )


def treebank_sentence_too_long(path, first_line, limit):
    """The `InputTooLongError` for a CoNLL-U sentence of more than `limit` tokens, starting at `first_line`.

    Reading stops at the first token over the bound, so the whole count is not known (nor needed).

    Example:

    >>> print(treebank_sentence_too_long("train.conllu", 120, 1000))
    train.conllu:120: a sentence of more than 1000 tokens (the limit per sentence): is a blank line missing between two sentences? Raise the limit if such sentences are real (max_sentence_tokens; --max-sentence-tokens).
    """
    return InputTooLongError(
        f"{path}:{first_line}: a sentence of more than {limit} tokens (the limit per sentence): is a blank line "
        "missing between two sentences? Raise the limit if such sentences are real (max_sentence_tokens; "
        "--max-sentence-tokens)."
    )


def review_too_long(where, characters, limit):
    """The `InputTooLongError` for a review of `characters` characters (more than `limit`).

    Args:
        where: the review, capitalized: `"Review 2"`, `"The review"`, `"PATH: aclImdb/test/pos/1_10.txt"`.
        characters: its length.
        limit: the bound.

    Example:

    >>> print(review_too_long("Review 2", 250000, 100000))
    Review 2 has 250000 characters, over the limit of 100000 per review: raise the limit if such reviews are real (max_review_characters; --max-review-characters).
    """
    return InputTooLongError(
        f"{where} has {characters} characters, over the limit of {limit} per review: raise the limit if such "
        "reviews are real (max_review_characters; --max-review-characters)."
    )


def not_utf8(where, data, error=None, lines=True):
    """The one-line `ValueError` for bytes that are not UTF-8: where they are, and the first bad byte's offset.

    Args:
        where: the file (or `"file: member"`, or an argument's name).
        data: the bytes (all of them, or at least up to the bad byte).
        error: the `UnicodeDecodeError` of decoding `data`, if already at hand.
        lines: also give the bad byte's line number (`where:LINE:`), for a file.

    Example:

    >>> str(not_utf8("reviews.txt", b"Great film\\nCaf\\xe9 scene"))
    'reviews.txt:2: not valid UTF-8 at byte offset 14 (invalid continuation byte)'
    >>> str(not_utf8("TEXT", b"caf\\xe9", lines=False))
    'TEXT: not valid UTF-8 at byte offset 3 (unexpected end of data)'
    """
    if error is None:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as decode_error:
            error = decode_error
        else:
            raise ValueError(f"Expected bytes that are not UTF-8 from {where}; they decode.")
    line = ":" + str(data.count(b"\n", 0, error.start) + 1) if lines else ""
    return ValueError(f"{where}{line}: not valid UTF-8 at byte offset {error.start} ({error.reason})")


def file_not_utf8(path):
    """The `not_utf8` error of a file that failed to decode (read again as bytes, to find the true offset).

    A text-mode read reports the offset within the chunk it was decoding,
    not within the file; this one is the file's.

    Example:

    >>> import tempfile
    >>> path = tempfile.mktemp(suffix=".conllu")
    >>> _ = open(path, "wb").write(b"# text = Caf\\xe9\\n")
    >>> str(file_not_utf8(path)).endswith(":1: not valid UTF-8 at byte offset 12 (invalid continuation byte)")
    True
    """
    with open(path, "rb") as file:
        return not_utf8(path, file.read())


def check_utf8_text(text, where):
    """Return `text` if it is valid Unicode; else a one-line `ValueError` with the first bad byte's offset.

    Python hands a program its command-line arguments (and file names)
    decoded with `surrogateescape`: bytes that are not UTF-8 arrive as lone
    surrogates ("caf\\udce9" for b"caf\\xe9"), which TensorFlow refuses with
    "Error converting unicode string". Their offset is that of the original bytes.

    Args:
        text: a str.
        where: the input's name for the message (`"TEXT"`, `"--prompt"`, `"Review 3"`).

    Example:

    >>> check_utf8_text("café", "TEXT")
    'café'
    >>> check_utf8_text("caf\\udce9 scene", "TEXT")
    Traceback (most recent call last):
    ...
    ValueError: TEXT: not valid UTF-8 at byte offset 3 (invalid continuation byte)
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as error:
        # A surrogate that no byte produced (e.g. "\ud800" written in Python): there are no bytes to point at.
        raise ValueError(f"{where}: not valid Unicode text (a lone surrogate at character {error.start})") from None
    raise not_utf8(where, data, lines=False) from None


def first_not_utf8(texts, where):
    """Raise the `check_utf8_text` error of the first of `texts` (str or bytes) that is not valid text.

    Called after TensorFlow refused a batch of texts, to say which one and where.

    Args:
        texts: the inputs, in order: texts, or lists of words (a tagger's sentences).
        where: the inputs' kind, capitalized, for the message: `"Review"`, `"Sentence"`.

    Example:

    >>> first_not_utf8(["fine", b"caf\\xe9"], "Review")
    Traceback (most recent call last):
    ...
    ValueError: Review 1: not valid UTF-8 at byte offset 3 (unexpected end of data)
    >>> first_not_utf8([["The", "caf\\udce9"]], "Sentence")
    Traceback (most recent call last):
    ...
    ValueError: Sentence 0, word 1: not valid UTF-8 at byte offset 3 (unexpected end of data)
    """
    for index, text in enumerate(texts):
        words = text if isinstance(text, (list, tuple)) else [text]
        for position, word in enumerate(words):
            name = f"{where} {index}" + (f", word {position}" if words is text else "")
            if isinstance(word, bytes):
                try:
                    word.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise not_utf8(name, word, error, lines=False) from None
            elif isinstance(word, str):
                check_utf8_text(word, name)
