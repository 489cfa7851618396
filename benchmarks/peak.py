"""The machine's float32 matmul peak (TensorFlow and PyTorch) and the FLOPs of an RNN per token."""

import time

import numpy as np
import tensorflow as tf

from benchmarks.measure import interleaved, median


def _tf_matmul_seconds(n, calls):
    a = tf.random.normal([n, n])
    b = tf.random.normal([n, n])
    chained = tf.function(lambda a, b: tf.reduce_sum(tf.stack([tf.matmul(a + i, b) for i in range(calls)])))
    chained(a, b).numpy()  # trace and warm up
    start = time.perf_counter()
    chained(a, b).numpy()
    return time.perf_counter() - start


def _torch_matmul_seconds(n, calls):
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    start = time.perf_counter()
    for _ in range(calls):
        torch.mm(a, b)
    return time.perf_counter() - start


def matmul_peak(n=2048, calls=8, repetitions=3):
    """Float32 GFLOP/s of `calls` chained `n x n` matmuls, through TF and through PyTorch.

    Args:
        n: the matrix size (large enough to be compute-bound).
        calls: matmuls per timed repetition.
        repetitions: interleaved repetitions; each figure is their median.

    Returns:
        `{"tensorflow": GFLOP/s, "torch": GFLOP/s, "peak": the higher}`.

    Example:

    >>> matmul_peak(n=64, calls=2, repetitions=3)["peak"] > 0
    True
    """
    flops = 2.0 * n**3 * calls
    runners = {"tensorflow": _tf_matmul_seconds}
    try:
        import torch  # noqa: F401

        runners["torch"] = _torch_matmul_seconds
    except ImportError:
        pass
    times = interleaved(list(runners), repetitions, lambda name: runners[name](n, calls))
    result = {name: flops / median(values) / 1e9 for name, values in times.items()}
    result["peak"] = max(result.values())
    return result


def rnn_flops_per_token(cell, input_size, units, directions=1):
    """Forward matmul FLOPs of one recurrent layer per token (x·W and h·U, all gates).

    Args:
        cell: `"lstm"` (4 gates), `"gru"` (3) or `"simple_rnn"` (1).
        input_size: features per step entering the layer.
        units: hidden units per direction.
        directions: 2 for a bidirectional layer.

    Example:

    >>> rnn_flops_per_token("lstm", 64, 512)
    2359296
    """
    gates = {"lstm": 4, "gru": 3, "simple_rnn": 1}[cell]
    return 2 * gates * units * (input_size + units) * directions


def training_flops(forward_flops):
    """Training FLOPs from forward FLOPs: backward costs two matmuls per forward one.

    Example:

    >>> training_flops(10)
    30
    """
    return 3 * forward_flops


def fraction_of_peak(tokens_per_second, forward_flops_per_token, peak_gflops):
    """Achieved training FLOP/s over the machine's peak.

    Example:

    >>> round(fraction_of_peak(1000, 1e6, 30.0), 2)
    0.1
    """
    return tokens_per_second * training_flops(forward_flops_per_token) / (peak_gflops * 1e9)


if __name__ == "__main__":
    print(matmul_peak(np.int64(2048).item()))
