"""Length-bucketed batches, so short examples do not pay for long ones."""

import tensorflow as tf

from kerasrnn.validation import check_positive_int

DEFAULT_BOUNDARIES = (16, 32, 64, 128, 256, 512)


def bucketed_batches(dataset, batch_size, boundaries=DEFAULT_BOUNDARIES, shuffle_buffer=None, seed=None):
    """Batch `(ids, target)` examples of similar length together, padded with 0.

    Args:
        dataset: elements `(inputs, target)` where `inputs` is a 1-D int
            tensor (or a dict of tensors whose first axis is time) and
            `target` a scalar label or a 1-D tensor as long as the inputs.
        batch_size: examples per batch.
        boundaries: the bucket edges, in tokens.
        shuffle_buffer: shuffle this many examples before bucketing (training).
        seed: the shuffle seed.

    Returns:
        A prefetched `tf.data.Dataset` of padded batches.

    Example:

    >>> import tensorflow as tf
    >>> examples = tf.data.Dataset.from_generator(
    ...     lambda: ((tf.ones(n, "int32"), 1) for n in (3, 40, 4)),
    ...     output_signature=(tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32)))
    >>> [tuple(x.shape) for x, _ in bucketed_batches(examples, 2, boundaries=(8,))]
    [(2, 4), (1, 40)]
    """
    batch_size = check_positive_int("batch_size", batch_size)
    if shuffle_buffer:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.bucket_by_sequence_length(
        # Every input of an example (word ids, char ids, ...) starts with its time axis.
        element_length_func=lambda inputs, target: tf.shape(tf.nest.flatten(inputs)[0])[0],
        bucket_boundaries=list(boundaries),
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
    )
    return dataset.prefetch(tf.data.AUTOTUNE)
