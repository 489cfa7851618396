"""Micro-benchmark of one char-LM train step: Keras LSTM vs FastLSTM (Keras loop) vs FastLSTM + fused op vs PyTorch.

The char LM of issue #15 (Embedding 64 → LSTM 512 → LSTM 512 → Dense, batch
64 × 100, Adam) on random ids, so no data set is read. Every variant is warmed
up (tracing, the op's build), then timed interleaved A B C D A B C D, each
repetition `steps` train steps; medians and per-repetition paired ratios are
printed (and written as JSON with --out). PyTorch is measured when it imports.

    python -m benchmarks.fused_lstm_micro --repetitions 7 --steps 3
"""

import argparse
import json
import time

import keras
import numpy as np

from benchmarks.measure import interleaved, median, paired_ratio
from kerasrnn.layers.fast_rnn import FastLSTM, with_batched_input_projection
from kerasrnn.tasks import build_char_lm

VOCAB, UNITS, EMBEDDING, BATCH, TIME = 65, 512, 64, 64, 100


def _batches(count, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.integers(1, VOCAB, (BATCH, TIME)).astype("int32"),
             rng.integers(1, VOCAB, (BATCH, TIME)).astype("int32")) for _ in range(count)]


def keras_step(fast=False, fused=False, units=UNITS):
    """Return `step(x, y)`: one `train_on_batch` of the char LM built as the benchmark builds it.

    Args:
        fast: swap the LSTM layers for `FastLSTM`.
        fused: let `FastLSTM` use the fused op (only with `fast`).
        units: LSTM units.

    Example:

    >>> step = keras_step(fast=True, fused=False, units=8)
    >>> x = np.ones((2, 5), "int32")
    >>> isinstance(step(x, x), float)
    True
    """
    model = build_char_lm(VOCAB, cell="lstm", units=units, num_layers=2, embedding_dim=EMBEDDING,
                          learning_rate=2e-3)
    if fast:
        model = with_batched_input_projection(model)
        for layer in model.layers:
            if isinstance(layer, FastLSTM):
                layer.use_fused_kernel = fused

    def step(x, y):
        logs = model.train_on_batch(x, y, return_dict=True)
        return float(logs["loss"])

    return step


def torch_step(units=UNITS):
    """`step(x, y)` for PyTorch 2-layer nn.LSTM (oneDNN as PyTorch defaults), or None without torch.

    Example:

    >>> step = torch_step(units=8)
    >>> step is None or isinstance(step(np.ones((2, 5), "int32"), np.ones((2, 5), "int32")), float)
    True
    """
    try:
        import torch
    except ImportError:
        return None
    from benchmarks.torch_models import TorchCharLM, flush_subnormals_in_every_thread, torch_train_step

    flush_subnormals_in_every_thread()
    torch.manual_seed(0)
    model = TorchCharLM(VOCAB, EMBEDDING, units, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss = torch.nn.CrossEntropyLoss()

    def step(x, y):
        ids, targets = torch.from_numpy(x.astype("int64")), torch.from_numpy(y.astype("int64"))
        return torch_train_step(model, optimizer, lambda m: loss(m(ids).reshape(-1, VOCAB), targets.reshape(-1)))

    return step


def main(argv=None):
    """Run the micro-benchmark and print medians (tokens/s) and paired ratios.

    Args:
        argv: command-line arguments (`--repetitions`, `--steps`, `--out`).

    Example:

    >>> main(["--help"])  # doctest: +SKIP
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=7)
    parser.add_argument("--steps", type=int, default=3, help="train steps per timed repetition")
    parser.add_argument("--out", help="write the raw timings here as JSON")
    args = parser.parse_args(argv)

    batches = _batches(args.steps)
    variants = {
        "Keras LSTM": keras_step(),
        "FastLSTM (Keras loop)": keras_step(fast=True),
        "FastLSTM + fused op": keras_step(fast=True, fused=True),
    }
    torch_variant = torch_step()
    if torch_variant is not None:
        import torch

        variants[f"PyTorch {torch.__version__} nn.LSTM"] = torch_variant
    for step in variants.values():  # warm-up: tracing, the op's build, allocators
        for x, y in batches[:2]:
            step(x, y)

    def run_once(name):
        start = time.perf_counter()
        for x, y in batches:
            variants[name](x, y)
        return time.perf_counter() - start

    times = interleaved(list(variants), args.repetitions, run_once)
    tokens = args.steps * BATCH * TIME
    report = {"seconds": times, "tokens_per_repetition": tokens}
    for name, values in times.items():
        print(f"{name:32s} median {median(values):7.3f} s/rep  {tokens / median(values):8.0f} tokens/s  "
              f"(reps: {', '.join(f'{v:.2f}' for v in values)})")
    base = times["Keras LSTM"]
    for name, values in times.items():
        print(f"speed-up of {name} over Keras LSTM (median of paired ratios): {paired_ratio(base, values):.3f}x")
    if torch_variant is not None:
        torch_name = [n for n in variants if n.startswith("PyTorch")][0]
        for name in variants:
            print(f"{name} / PyTorch throughput: {paired_ratio(times[torch_name], times[name]):.3f}x")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as file:
            json.dump(report, file, indent=2)


if __name__ == "__main__":
    main()
