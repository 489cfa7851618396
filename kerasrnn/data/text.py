"""Plain UTF-8 text for the character language model, and its TBPTT batches."""

import numpy as np
import tensorflow as tf

from kerasrnn.validation import check_positive_int

TINY_SHAKESPEARE_URL = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
)


def read_text(path):
    """Read a UTF-8 text file; an invalid byte is reported with its offset.

    Example:

    >>> len(read_text("../shared/data/tinyshakespeare/input.txt"))
    1115394
    """
    with open(path, "rb") as file:
        raw = file.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path}: not valid UTF-8 at byte offset {error.start} ({error.reason})"
        ) from error
    if not text:
        raise ValueError(f"{path}: the text file is empty.")
    return text


def download_tiny_shakespeare(cache_dir=None, origin=TINY_SHAKESPEARE_URL, file_hash=None):
    """Download Tiny Shakespeare with `keras.utils.get_file`; returns the local path.

    Needs network access (or a mirror given as `origin`); cached after the first call.

    Example:

    >>> text = read_text(download_tiny_shakespeare())  # doctest: +SKIP
    """
    import keras

    return keras.utils.get_file("input.txt", origin=origin, file_hash=file_hash, cache_dir=cache_dir,
                                cache_subdir="tinyshakespeare")


def load_text_from_tfds(name="tiny_shakespeare", data_dir=None):
    """Read a text data set through `tensorflow-datasets` as one string (train, validation, test joined).

    `tiny_shakespeare` in TFDS is the same file split 90/5/5 by position;
    joined in order it is the original text, which `split_text` then cuts 90/10.

    Example:

    >>> text = load_text_from_tfds()  # doctest: +SKIP
    """
    import tensorflow_datasets as tfds

    parts = []
    for split in ("train", "validation", "test"):
        for example in tfds.as_numpy(tfds.load(name, split=split, data_dir=data_dir)):
            parts.append(example["text"].decode("utf-8"))
    return "".join(parts)


def split_text(text, train_fraction=0.9):
    """Split text by position: the first `train_fraction` trains, the rest validates.

    Example:

    >>> split_text("abcdefghij")
    ('abcdefghi', 'j')
    """
    if not 0 < train_fraction < 1:
        raise ValueError(f"`train_fraction` must be in (0, 1). Received: {train_fraction!r}")
    cut = int(len(text) * train_fraction)
    return text[:cut], text[cut:]


def tbptt_dataset(token_ids, batch_size, seq_len):
    """Cut ids into `batch_size` contiguous streams and yield consecutive windows.

    This is truncated backpropagation through time as char-rnn does it: row
    `i` of batch `k + 1` continues row `i` of batch `k`, so a stateful model
    carries its state across batches. Each element is `(inputs, targets)`
    with `targets` the inputs shifted by one character (teacher forcing).

    Args:
        token_ids: 1-D int array of the whole text.
        batch_size: number of parallel streams.
        seq_len: characters per window.

    Returns:
        A `tf.data.Dataset` of `(int32[batch_size, seq_len], int32[batch_size, seq_len])`.

    Example:

    >>> dataset = tbptt_dataset(np.arange(21), batch_size=2, seq_len=3)
    >>> [x.numpy().tolist() for x, _ in dataset.take(2)]
    [[[0, 1, 2], [10, 11, 12]], [[3, 4, 5], [13, 14, 15]]]
    """
    batch_size = check_positive_int("batch_size", batch_size)
    seq_len = check_positive_int("seq_len", seq_len)
    token_ids = np.asarray(token_ids, dtype="int32")
    stream_length = (len(token_ids) - 1) // batch_size
    windows = stream_length // seq_len
    if windows == 0:
        raise ValueError(
            f"The text ({len(token_ids)} characters) is too short for batch_size={batch_size} "
            f"streams of windows of seq_len={seq_len}."
        )
    used = windows * seq_len
    starts = np.arange(batch_size)[:, None] * stream_length
    positions = starts + np.arange(used)[None, :]
    inputs = token_ids[positions].reshape(batch_size, windows, seq_len).transpose(1, 0, 2)
    targets = token_ids[positions + 1].reshape(batch_size, windows, seq_len).transpose(1, 0, 2)
    return tf.data.Dataset.from_tensor_slices((inputs, targets))
