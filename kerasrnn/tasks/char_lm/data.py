"""Plain text for the character language model: TBPTT training data, the validation text, stateful copies."""

import tensorflow as tf

from kerasrnn.data.kinds import check_data_kind
from kerasrnn.data.text import read_text, split_text, tbptt_dataset
from kerasrnn.tasks.char_lm.preprocessor import CharLanguageModelPreprocessor
from kerasrnn.tasks.model_parts import PreparedData


def check_data_path(data_path):
    """Refuse a data set that is not plain text (a CoNLL-U treebank, an archive), in one line.

    The char LM would otherwise learn or score any UTF-8 file as prose.

    Args:
        data_path: the `--data` path.

    Example:

    >>> check_data_path("../shared/data/ud-english-ewt/en_ewt-ud-test.conllu")
    Traceback (most recent call last):
    ...
    ValueError: --data: '../shared/data/ud-english-ewt/en_ewt-ud-test.conllu' is a CoNLL-U treebank (tab-separated token lines); the char_lm task reads a UTF-8 text file, such as tinyshakespeare/input.txt.
    """
    check_data_kind(data_path, ("text",), "char_lm", "a UTF-8 text file, such as tinyshakespeare/input.txt")


def prepare(data_path, batch_size=64, max_examples=None, seed=1337, seq_len=100, stateful=False):
    """Read a text file, split it 90/10 by position and cut it into TBPTT windows.

    An example of the char LM is one window: `seq_len` characters of the text
    and, as targets, the `seq_len` characters that follow each of them. The
    text is cut into `batch_size` contiguous streams and every batch holds
    the next window of each stream (see `tbptt_dataset`), so an epoch trains
    on a whole number of batches; the characters after the last whole
    window of a stream are not trained on.

    Args:
        data_path: a UTF-8 text file such as Tiny Shakespeare's `input.txt`.
        batch_size: the number of parallel streams.
        max_examples: train on at most this many windows (rounded down to a
            multiple of `batch_size`; at least `batch_size`), and validate on
            as many.
        seed: the shuffle seed (windows are shuffled only when not stateful).
        seq_len: characters per window (the truncation length of BPTT).
        stateful: carry the state across windows; the spec then fixes `batch_size`.

    Returns:
        A `PreparedData` whose `train_examples` is the number of training
        windows in an epoch.

    Example:

    >>> data = prepare("../shared/data/tinyshakespeare/input.txt")
    >>> data.spec_arguments, data.train_examples
    ({'vocab_size': 66}, 9984)
    >>> prepare("../shared/data/tinyshakespeare/input.txt", max_examples=200).train_examples
    192
    """
    if max_examples is not None and max_examples < batch_size:
        raise ValueError(
            f"`max_examples` must be at least `batch_size` for the char LM (each batch holds one window of each "
            f"of the batch_size text streams). Received: max_examples={max_examples}, batch_size={batch_size}"
        )
    check_data_path(data_path)
    train_text, val_text = split_text(read_text(data_path))
    if max_examples:
        # Just enough text for max_examples windows and the target of the last character.
        train_text = train_text[: max_examples * seq_len + 1]
        val_text = val_text[: max_examples * seq_len + 1]
    preprocessor = CharLanguageModelPreprocessor(sorted(set(train_text)), seq_len)
    train = tbptt_dataset(preprocessor.encode(train_text), batch_size, seq_len)
    train_windows = int(train.cardinality()) * batch_size  # each element is a batch: one window per stream
    if not stateful:
        # Without carried state the windows are independent, so their order may change.
        train = train.shuffle(len(train), seed=seed, reshuffle_each_iteration=True)
    validation = tbptt_dataset(preprocessor.encode(val_text), batch_size, seq_len)
    spec_arguments = {"vocab_size": len(preprocessor.labels)}
    if stateful:
        spec_arguments.update(stateful=True, batch_size=batch_size)
    return PreparedData(
        train=train.prefetch(tf.data.AUTOTUNE),
        validation=validation.prefetch(tf.data.AUTOTUNE),
        spec_arguments=spec_arguments,
        preprocessor=preprocessor,
        train_examples=train_windows,
    )


def evaluation_data(data_path):
    """The text `kerasrnn evaluate` scores: the last 10% of a text file (Tiny Shakespeare's validation split).

    Returns:
        `(text, None, counts)`: what `model.evaluate` takes, and how many characters it scores.

    Example:

    >>> text, _, counts = evaluation_data("../shared/data/tinyshakespeare/input.txt")
    >>> len(text), counts
    (111540, {'characters': 110592})
    """
    from kerasrnn.tasks.char_lm.language_model import EVALUATION_STREAMS, EVALUATION_WINDOW

    check_data_path(data_path)
    text = split_text(read_text(data_path))[1]
    # `evaluate` scores whole windows of every stream (see `tbptt_dataset`).
    windows = (len(text) - 1) // EVALUATION_STREAMS // EVALUATION_WINDOW
    return text, None, {"characters": windows * EVALUATION_WINDOW * EVALUATION_STREAMS}
