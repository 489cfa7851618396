"""What PyTorch's default (subnormal floats not flushed) costs: the keras-io architecture, fresh processes.

PyTorch does not flush subnormal floats to zero by default; TensorFlow does,
and the harness runs PyTorch flushed in every thread. The flag is per thread
and PyTorch's worker threads copy it when created, so the two settings
cannot be compared in one process: each measurement is a fresh process that
sets it (or not) before PyTorch's first operation, then trains the keras-io
architecture on the keras-io recipe's real padded batches.

    python -m benchmarks.subnormals flushed --batches 10
"""

import argparse
import json
import os
import subprocess
import sys

from benchmarks.measure import interleaved, median

SETTINGS = ("PyTorch default (not flushed)", "flushed in every thread")


def measure_in_this_process(flushed, batches):
    """Seconds of each optimizer step; the flag must be set before PyTorch's first parallel operation.

    Example:

    >>> len(measure_in_this_process(True, 2)) == 2  # doctest: +SKIP
    True
    """
    import torch

    if flushed:
        torch.set_flush_denormal(True)
    from benchmarks.measure import seconds
    from benchmarks.references import keras_io_reference
    from benchmarks.torch_models import torch_training_pass
    from benchmarks.training_speed import _naive_recipe_batches

    data, _ = _naive_recipe_batches({"adapt_reviews": 3000, "batches": batches + 1})
    torch.manual_seed(0)
    reference = keras_io_reference()
    steps = [torch_training_pass(reference, [batch]) for batch in data]
    steps[0]()  # warm-up step, untimed
    return [seconds(step) for step in steps[1:]]


def subnormals(settings):
    """Median step seconds of each setting, fresh processes interleaved; returns one row per setting.

    Example:

    >>> subnormals({"subnormal_batches": 2, "repetitions": 3})  # doctest: +SKIP
    """
    def run_once(setting):
        command = [sys.executable, "-m", "benchmarks.subnormals", "flushed" if setting == SETTINGS[1] else "default",
                   "--batches", str(settings["subnormal_batches"])]
        finished = subprocess.run(command, capture_output=True, text=True, check=False,
                                  env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        if finished.returncode != 0:
            raise RuntimeError(f"subnormal measurement failed:\n{finished.stderr[-2000:]}")
        return median(json.loads(finished.stdout.strip().splitlines()[-1]))

    values = interleaved(list(SETTINGS), settings["repetitions"], run_once)
    return [{"setting": name, "step_seconds": v, "median_step_seconds": median(v),
             "batches": settings["subnormal_batches"]} for name, v in values.items()]


def main(argv=None):
    """Print the step seconds of one fresh-process measurement as JSON.

    Example:

    >>> main(["flushed", "--batches", "2"])  # doctest: +SKIP
    """
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("setting", choices=["default", "flushed"])
    parser.add_argument("--batches", type=int, default=10)
    arguments = parser.parse_args(argv)
    print(json.dumps(measure_in_this_process(arguments.setting == "flushed", arguments.batches)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
