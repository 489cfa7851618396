"""GRU and SimpleRNN training throughput on oneDNN's ops (FastGRU, FastSimpleRNN) vs Keras' loop, same batches.

`python -m benchmarks.fused_rnn_speed [--batches N] [--repetitions N] [--task TASK ...]`

What users run: `kerasrnn train sentiment|pos_tagger --cell gru|simple_rnn`
(the task defaults with another cell) and the zoo recipe
charlm-shakespeare-lstm with `cell` set to gru or simple_rnn (2×512, stateful
64×100 windows). Each cell trains twice on the same list of real batches:
with the fused kernel (the default) and with `use_fused_kernel = False` on
every layer, which is Keras' own loop, what ran before (as with
`KERASRNN_FUSED_KERNELS=0`). The LSTM default of each task is measured in the
same run as a yardstick. One untimed warm-up pass per variant, then
repetitions timed interleaved (A B C A B C); the figure is the median of real
tokens per second, and each ratio the median of the per-repetition ratios.
PyTorch is not measured here (benchmarks/training_speed.py has the LSTM rows).

Example:

>>> sorted(TASKS)
['char_lm', 'pos', 'sentiment']
"""

import argparse
import json
import os
import time

import numpy as np

from benchmarks.measure import interleaved, median, seconds
from benchmarks.references import reference_for

TASKS = {"char_lm": {"char_units": 512}, "sentiment": {"sentiment_examples": 3000}, "pos": {}}
CELLS = ("lstm", "gru", "simple_rnn")


def _on_keras_loop(model):
    from kerasrnn.keras_adapter import nested_layers

    for layer in nested_layers(model):
        if hasattr(layer, "use_fused_kernel"):
            layer.use_fused_kernel = False
    return model


def measure_task(task, batches, repetitions):
    """Rows of `{task, variant, median_real_tokens_per_s, real_tokens_per_s}` and the ratios of one task.

    Args:
        task: a key of `TASKS`.
        batches: how many real training batches every variant trains on.
        repetitions: timed passes per variant.

    Returns:
        `(rows, ratios)`: a row per variant, and `{name: ratio}` (fused / Keras loop per cell; each cell / LSTM).
    """
    reference = reference_for(task, TASKS[task])
    data = [(x.numpy(), y.numpy()) for x, y in reference.data.train.take(batches)]
    real = sum(int(np.count_nonzero(x)) for x, _ in data)
    passes = {}
    for cell in CELLS:
        variants = [("fused", lambda model: model)] + ([] if cell == "lstm" else [("Keras loop", _on_keras_loop)])
        for kind, prepare in variants:
            model = prepare(reference.keras_model(cell=cell))

            def one_pass(model=model):
                for x, y in data:
                    model.train_on_batch(x, y)

            passes[f"{cell}, {kind}"] = one_pass
    for one_pass in passes.values():  # warm-up: tracing
        one_pass()
    times = interleaved(list(passes), repetitions, lambda name: seconds(passes[name]))
    rows = [{"task": task, "variant": name, "real_tokens_per_s": [real / t for t in values],
             "median_real_tokens_per_s": median([real / t for t in values]), "batches": len(data),
             "batch_shapes": sorted({tuple(x.shape) for x, _ in data})} for name, values in times.items()]

    def ratio(numerator, denominator):
        return median([b / a for a, b in zip(times[numerator], times[denominator])])

    ratios = {}
    for cell in CELLS[1:]:
        ratios[f"{task}: {cell} fused / Keras loop"] = ratio(f"{cell}, fused", f"{cell}, Keras loop")
        ratios[f"{task}: {cell} fused / lstm default"] = ratio(f"{cell}, fused", "lstm, fused")
    return rows, ratios


def main(argv=None):
    """Measure the tasks asked for and print (and save) the rows as JSON.

    Args:
        argv: command-line arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", action="append", choices=sorted(TASKS))
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "fused_rnn_speed.json"))
    arguments = parser.parse_args(argv)
    results = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_average_start": os.getloadavg(),
               "batches": arguments.batches, "repetitions": arguments.repetitions, "rows": [], "ratios": {}}
    for task in arguments.task or ["sentiment", "pos", "char_lm"]:
        rows, ratios = measure_task(task, arguments.batches, arguments.repetitions)
        results["rows"] += rows
        results["ratios"].update(ratios)
        for row in rows:
            print(f"[fused_rnn_speed] {task:9s} {row['variant']:22s} {row['median_real_tokens_per_s']:10,.0f} tok/s",
                  flush=True)
        for name, value in ratios.items():
            print(f"[fused_rnn_speed] {name}: {value:.2f}x", flush=True)
    results["load_average_end"] = os.getloadavg()
    with open(arguments.out, "w", encoding="utf-8") as file:
        json.dump(results, file, indent=1)


if __name__ == "__main__":
    main()
