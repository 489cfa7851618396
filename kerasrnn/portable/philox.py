"""TensorFlow's `tf.random.stateless_uniform` (Philox-4x32-10, as on a CPU) in numpy.

The char LM's sampler draws each step's Gumbel noise from
`stateless_uniform([V], seed=[row_seed, step])`; computing the same
numbers here lets `kerasrnn.portable` sample the same text for a seed as
`CharLanguageModel.generate` and the exported `generate` signature (except
where two scaled logits tie to within the runtimes' float32 rounding).
The constants and the seed scrambling are TensorFlow's
(`tensorflow/core/lib/random/philox_random.h`, `GenerateKey` in
`stateless_random_ops.cc`).
"""

import numpy as np

_ROUND_MULTIPLIERS = (np.uint64(0xD2511F53), np.uint64(0xCD9E8D57))
_KEY_INCREMENTS = (np.uint32(0x9E3779B9), np.uint32(0xBB67AE85))
_SCRAMBLE_KEY = (np.uint32(0x3EC8F720), np.uint32(0x02461E29))
_LOW = np.uint64(0xFFFFFFFF)


def _philox(counters, key):
    """Philox-4x32-10 of `counters` (`(n, 4)` uint32) under `key` (two uint32); returns `(n, 4)` uint32."""
    c0, c1, c2, c3 = (counters[:, index].astype(np.uint64) for index in range(4))
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    for round_index in range(10):
        product0 = _ROUND_MULTIPLIERS[0] * c0
        product1 = _ROUND_MULTIPLIERS[1] * c2
        high0, low0 = product0 >> np.uint64(32), product0 & _LOW
        high1, low1 = product1 >> np.uint64(32), product1 & _LOW
        c0, c1, c2, c3 = high1 ^ c1 ^ k0, low1, high0 ^ c3 ^ k1, low0
        if round_index < 9:
            k0 = (k0 + np.uint64(_KEY_INCREMENTS[0])) & _LOW
            k1 = (k1 + np.uint64(_KEY_INCREMENTS[1])) & _LOW
    return np.stack([c0, c1, c2, c3], axis=1).astype(np.uint32)


def _key_and_counter(seed0, seed1):
    # TensorFlow scrambles the two 64-bit seeds with one Philox call under a fixed key.
    seed0, seed1 = int(seed0) % 2**64, int(seed1) % 2**64
    words = np.array([[seed0 & 0xFFFFFFFF, seed0 >> 32, seed1 & 0xFFFFFFFF, seed1 >> 32]], np.uint32)
    mix = _philox(words, _SCRAMBLE_KEY)[0]
    return (mix[0], mix[1]), (0, 0, int(mix[2]), int(mix[3]))


def stateless_uniform(size, seed):
    """`tf.random.stateless_uniform([size], seed=seed)`: float32 in [0, 1), the same numbers as TensorFlow's CPU kernel.

    Args:
        size: how many numbers.
        seed: two integers (TensorFlow's int64 seed pair).

    Example:

    >>> numbers = stateless_uniform(3, (1, 2))
    >>> numbers.dtype, bool(((0 <= numbers) & (numbers < 1)).all())
    (dtype('float32'), True)
    """
    key, counter = _key_and_counter(*seed)
    groups = -(-size // 4)
    # The 128-bit counter advances by one per group of four numbers, from its low word up.
    low = (counter[0] + counter[1] * 2**32 + np.arange(groups, dtype=object)) if groups else []
    counters = np.zeros((groups, 4), np.uint32)
    for row, value in enumerate(low):
        high = counter[2] + counter[3] * 2**32 + (value >> 64)
        value &= 2**64 - 1
        counters[row] = (value & 0xFFFFFFFF, value >> 32, high & 0xFFFFFFFF, (high >> 32) & 0xFFFFFFFF)
    bits = _philox(counters, key).reshape(-1)[:size]
    # TensorFlow's Uint32ToFloat: 23 random mantissa bits under the exponent of 1.0, minus 1.
    return ((bits & np.uint32(0x7FFFFF)) | np.uint32(0x3F800000)).view(np.float32) - np.float32(1.0)
