"""CoNLL-U treebanks for the tagger: training data, the test file, and token lists as examples."""

import collections
import glob
import os

import tensorflow as tf

from kerasrnn.data.length_buckets import bucketed_batches
from kerasrnn.data.conllu import read_conllu
from kerasrnn.data.input_checks import MAX_SENTENCE_TOKENS, first_not_utf8, sentence_too_long
from kerasrnn.data.kinds import check_data_kind
from kerasrnn.tasks.model_parts import PreparedData
from kerasrnn.tasks.pos_tagger.preprocessor import PADDING, UNKNOWN, PosTaggerPreprocessor


def check_data_path(data_path):
    """Refuse a data set that is not a CoNLL-U treebank (plain text, an archive), in one line.

    Args:
        data_path: the `--data` path.

    Example:

    >>> check_data_path("../shared/data/tinyshakespeare/input.txt")
    Traceback (most recent call last):
    ...
    ValueError: --data: '../shared/data/tinyshakespeare/input.txt' is a plain text file; the pos_tagger task reads a CoNLL-U treebank: a .conllu file, or a folder of *-train/-dev/-test.conllu files such as ud-english-ewt.
    """
    check_data_kind(data_path, ("conllu",), "pos_tagger",
                    "a CoNLL-U treebank: a .conllu file, or a folder of *-train/-dev/-test.conllu files such as "
                    "ud-english-ewt")


def find_split(data_path, split):
    """Return the `*-<split>.conllu` file named by `data_path` (a file or a folder).

    Example:

    >>> find_split("../shared/data/ud-english-ewt", "dev")
    '../shared/data/ud-english-ewt/en_ewt-ud-dev.conllu'
    """
    if os.path.isfile(data_path):
        return data_path
    matches = sorted(glob.glob(os.path.join(data_path, f"*-{split}.conllu")))
    if not matches:
        raise FileNotFoundError(f"No *-{split}.conllu file in {data_path!r}.")
    return matches[0]


def token_lists(rows):
    """Raw tagger inputs → one list of words per sentence.

    A row may be a list of words (trailing `""` padding is dropped) or a
    string, split on whitespace; a single string is one sentence.

    Example:

    >>> token_lists(["The dog barks .", ["A", "cat", ""]])
    [['The', 'dog', 'barks', '.'], ['A', 'cat']]
    """
    if isinstance(rows, (str, bytes)):
        rows = [rows]
    if isinstance(rows, (tf.Tensor, tf.RaggedTensor)):
        rows = rows.to_list() if isinstance(rows, tf.RaggedTensor) else rows.numpy().tolist()
    sentences = []
    for row in rows:
        if isinstance(row, bytes):
            row = row.decode("utf-8")
        words = row.split() if isinstance(row, str) else [w.decode("utf-8") if isinstance(w, bytes) else str(w) for w in row]
        while words and words[-1] == PADDING:
            words.pop()
        sentences.append(words)
    return sentences


def sentence_examples(preprocessor, rows, tags=None, max_sentence_tokens=MAX_SENTENCE_TOKENS):
    """Sentences (and their tags) → an unbatched dataset of model inputs (and tag ids).

    Args:
        preprocessor: the tagger's `PosTaggerPreprocessor`.
        rows: sentences as `token_lists` takes them.
        tags: one list of tag names (or ids) per sentence, or None.
        max_sentence_tokens: a longer sentence is refused, naming it (see
            `kerasrnn.data.input_checks`); None: no bound.

    Example:

    >>> preprocessor = PosTaggerPreprocessor(["", "[UNK]", "the", "dog"], ["DET", "NOUN"])
    >>> pairs = sentence_examples(preprocessor, [["the", "cat"]], [["DET", "NOUN"]])
    >>> [(w.numpy().tolist(), t.numpy().tolist()) for w, t in pairs]
    [([2, 1], [0, 1])]
    """
    sentences = token_lists(rows)
    if max_sentence_tokens is not None:
        for index, sentence in enumerate(sentences):
            if len(sentence) > max_sentence_tokens:
                raise sentence_too_long(f"Sentence {index}", len(sentence), max_sentence_tokens)
    try:
        words = tf.ragged.constant(sentences, dtype=tf.string, ragged_rank=1) if sentences else tf.ragged.constant([[]], tf.string)[:0]
    except ValueError:
        first_not_utf8(sentences, "Sentence")  # says which word is not text (surrogates from undecodable bytes)
        raise
    if tags is None:
        # tf.identity turns each ragged row into a 1-D tensor that padded batching accepts.
        return tf.data.Dataset.from_tensor_slices(words).map(
            lambda row: preprocessor(tf.identity(row)), num_parallel_calls=tf.data.AUTOTUNE
        )
    tag_ids = preprocessor.target_ids(list(tags))
    lengths = [len(row) for row in tag_ids]
    if lengths != [len(sentence) for sentence in sentences]:
        raise ValueError("Every sentence needs one tag per word: the tag lists' lengths differ from the sentences'.")
    tag_ids = tf.ragged.constant(tag_ids, tf.int32, ragged_rank=1) if tag_ids else tf.ragged.constant([[]], tf.int32)[:0]
    return tf.data.Dataset.from_tensor_slices((words, tag_ids)).map(
        lambda row, row_tags: (preprocessor(tf.identity(row)), tf.identity(row_tags)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


def prepare(
    data_path, batch_size=32, max_examples=None, seed=1337, tag_column="upos", min_count=2, use_characters=False,
    max_sentence_tokens=MAX_SENTENCE_TOKENS,
):
    """Read the train and dev treebanks, build vocabularies, batch by length.

    Args:
        data_path: a folder with `*-train.conllu` and `*-dev.conllu`, or a
            train file (validated then on its last 10% of sentences).
        batch_size: sentences per batch.
        max_examples: train on at most this many sentences.
        seed: the shuffle seed.
        tag_column: `"upos"` or `"xpos"`.
        min_count: words seen fewer times in training map to `[UNK]`, so the
            model learns an embedding for words it has never seen.
        use_characters: also feed each word's characters (for a tagger built
            with `char_vocab_size`, which the spec then sets).
        max_sentence_tokens: a sentence with more words is refused with its
            file and line (EWT's longest has 159; see `kerasrnn.data.input_checks`).

    Example:

    >>> data = prepare("../shared/data/ud-english-ewt", max_examples=100)
    >>> data.preprocessor.tags[:3]
    ['ADJ', 'ADP', 'ADV']
    """
    check_data_path(data_path)
    train_sentences = read_conllu(find_split(data_path, "train"), tag_column, max_sentence_tokens)
    if os.path.isdir(data_path):
        val_sentences = read_conllu(find_split(data_path, "dev"), tag_column, max_sentence_tokens)
    else:
        if len(train_sentences) < 2:
            # Both halves of the 90/10 split must hold a sentence: an empty
            # training set fails deep in TensorFlow's vocabulary lookup.
            raise ValueError(
                f"--data: {data_path!r} holds {len(train_sentences)} sentence(s); a single CoNLL-U file is split "
                "90/10 into training and validation sentences, so it needs at least 2."
            )
        cut = int(len(train_sentences) * 0.9)
        train_sentences, val_sentences = train_sentences[:cut], train_sentences[cut:]
    if max_examples:
        train_sentences = train_sentences[:max_examples]
    counts = collections.Counter(word for words, _ in train_sentences for word in words)
    vocabulary = [PADDING, UNKNOWN] + sorted(
        (word for word, count in counts.items() if count >= min_count), key=lambda w: (-counts[w], w)
    )
    # The tag inventory comes from both sets, so that a small training subset
    # still yields a model whose validation loss is defined for every tag.
    tags = sorted({tag for _, sentence_tags in train_sentences + val_sentences for tag in sentence_tags})
    spec_arguments = {"vocab_size": len(vocabulary), "num_tags": len(tags)}
    characters = None
    if use_characters:
        characters = sorted({character for word in counts for character in word})
        spec_arguments["char_vocab_size"] = len(characters) + 2  # padding and unknown
    preprocessor = PosTaggerPreprocessor(vocabulary, tags, characters, tag_column=tag_column)
    train = sentence_examples(preprocessor, *zip(*train_sentences), max_sentence_tokens=None).cache()  # read bounded
    validation = sentence_examples(preprocessor, *zip(*val_sentences), max_sentence_tokens=None).cache()
    return PreparedData(
        train=bucketed_batches(train, batch_size, shuffle_buffer=len(train_sentences), seed=seed),
        validation=bucketed_batches(validation, batch_size),
        spec_arguments=spec_arguments,
        preprocessor=preprocessor,
        train_examples=len(train_sentences),
    )


def evaluation_data(data_path, max_sentence_tokens=MAX_SENTENCE_TOKENS, tag_column="upos"):
    """The sentences and gold tags `kerasrnn evaluate` scores: a CoNLL-U file, or a folder's `*-test.conllu`.

    Args:
        data_path: the `--data` file or folder.
        max_sentence_tokens: a sentence with more words is refused with its file and line.
        tag_column: the column the model learned (its preprocessor's `tag_column`).

    Returns:
        `(sentences, tags, counts)`: what `model.evaluate` takes, and how many tokens and sentences.

    Example:

    >>> sentences, tags, counts = evaluation_data("../shared/data/ud-english-ewt/en_ewt-ud-test.conllu")
    >>> counts
    {'tokens': 25094, 'sentences': 2077}
    """
    check_data_path(data_path)
    sentences = read_conllu(find_split(data_path, "test"), tag_column, max_sentence_tokens)
    counts = {"tokens": sum(len(words) for words, _ in sentences), "sentences": len(sentences)}
    return [words for words, _ in sentences], [tags for _, tags in sentences], counts


