"""Seconds per epoch on the full training data, timed: kerasrnn vs PyTorch, char LM and POS tagger.

All batches of one training epoch are taken once from the task's data
pipeline, and both frameworks train on that same list: kerasrnn with
`model.fit` (what users call) over a `tf.data` dataset of the list, PyTorch
with the reference loop. Epochs are interleaved (kerasrnn epoch 1, PyTorch
epoch 1, kerasrnn epoch 2, ...) and each is timed by wall clock; the first
kerasrnn epoch includes tracing. (IMDB's full-data epochs are timed, with
test accuracy, by the `accuracy` section.)
"""

import numpy as np
import tensorflow as tf

from benchmarks.measure import EpochTimer, median, seconds
from benchmarks.references import reference_for
from benchmarks.torch_models import torch_training_pass


def _dataset_of(batches):
    """A `tf.data` dataset of `batches` (tuples of 1-D or 2-D arrays, shapes differing by batch), in order.

    The batches are held in memory as ragged tensors and made dense again in
    the pipeline, as a task's own pipeline yields them: no Python generator,
    whose per-batch calls slowed the char LM's oneDNN steps by ~30% in `fit`.

    Example:

    >>> batches = [(np.array([[1, 2], [3, 0]]), np.array([1, 0])), (np.array([[4, 5, 6]]), np.array([1]))]
    >>> [x.numpy().tolist() for x, _ in _dataset_of(batches)]
    [[[1, 2], [3, 0]], [[4, 5, 6]]]
    """
    parts = []
    for k in range(len(batches[0])):
        arrays = [batch[k] for batch in batches]
        lengths = [[len(a) for a in arrays]]
        if arrays[0].ndim == 2:
            lengths.append([a.shape[1] for a in arrays for _ in range(len(a))])
        flat = np.concatenate([a.ravel() for a in arrays])
        parts.append(tf.RaggedTensor.from_nested_row_lengths(flat, lengths))
    return tf.data.Dataset.from_tensor_slices(tuple(parts)).map(
        lambda *ragged: tuple(part.to_tensor() if isinstance(part, tf.RaggedTensor) else part for part in ragged))


def full_epochs(settings):
    """Train each task's reference model for `full_epochs` epochs in both frameworks; return one row each.

    Args:
        settings: a benchmark mode's settings (`epoch_tasks`, `full_epochs`, optional `epoch_batches` cap).

    Example:

    >>> rows = full_epochs({"epoch_tasks": ["pos"], "full_epochs": 1, "epoch_batches": 2})  # doctest: +ELLIPSIS
    [benchmarks]   pos epoch 1: kerasrnn ... s, PyTorch ... s
    >>> sorted(row["framework"] for row in rows)
    ['PyTorch', 'kerasrnn']
    """
    rows = []
    for task in settings["epoch_tasks"]:
        reference = reference_for(task, settings)
        batches = [(x.numpy(), y.numpy()) for x, y in reference.data.train]
        batches = batches[: settings.get("epoch_batches") or len(batches)]
        real = sum(int(np.count_nonzero(x)) for x, _ in batches)
        padded = sum(x.size for x, _ in batches)
        model, timer = reference.keras_model(), EpochTimer()
        dataset = _dataset_of(batches)
        torch_pass, torch_seconds = torch_training_pass(reference, batches), []
        for epoch in range(settings["full_epochs"]):
            model.fit(dataset, epochs=epoch + 1, initial_epoch=epoch, callbacks=[timer], verbose=0)
            torch_seconds.append(seconds(torch_pass))
            print(f"[benchmarks]   {task} epoch {epoch + 1}: kerasrnn {timer.seconds[-1]:.1f} s, "
                  f"PyTorch {torch_seconds[-1]:.1f} s", flush=True)
        for framework, values in (("kerasrnn", timer.seconds), ("PyTorch", torch_seconds)):
            rows.append({"task": task, "framework": framework, "architecture": reference.architecture,
                         "epoch_seconds": values, "median_epoch_seconds": median(values),
                         "batches": len(batches), "real_tokens": real, "padded_tokens": padded,
                         "median_real_tokens_per_s": median([real / t for t in values])})
    return rows
