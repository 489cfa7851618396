"""Peak memory of training each task's reference model, kerasrnn and PyTorch, each in a fresh process.

One process per (task, framework), so no model's allocations inflate
another's figure. Each process prepares the real data, builds the model,
trains it for a number of real batches and reports its resident memory
before training and at its peak during training (sampled every 50 ms).
Both kinds of process import TensorFlow (the data pipeline is `tf.data`);
only the PyTorch one imports torch.

Run one measurement by hand:

    python -m benchmarks.memory pos kerasrnn --batches 20
"""

import argparse
import json
import os
import subprocess
import sys

import psutil

TASKS = ("char_lm", "sentiment", "pos")
FRAMEWORKS = ("kerasrnn", "PyTorch")


def measure_in_this_process(task, framework, batches, settings):
    """Train `batches` real batches of the reference model here; return RSS before and at peak (bytes).

    Example:

    >>> measure_in_this_process("pos", "kerasrnn", 2, {})["peak_rss_bytes"] > 0
    True
    """
    from benchmarks.measure import PeakRss
    from benchmarks.references import reference_for

    reference = reference_for(task, settings)
    data = [(x.numpy(), y.numpy()) for x, y in reference.data.train.take(batches)]
    if framework == "PyTorch":
        from benchmarks.torch_models import flush_subnormals_in_every_thread, torch_training_pass

        flush_subnormals_in_every_thread()  # as the harness runs PyTorch; its import is not training memory
    before = psutil.Process().memory_info().rss
    if framework == "kerasrnn":
        model = reference.keras_model()

        def one_pass():
            for x, y in data:
                model.train_on_batch(x, y)
    elif framework == "PyTorch":
        one_pass = torch_training_pass(reference, data)
    else:
        raise ValueError(f"`framework` must be one of {FRAMEWORKS}. Received: framework={framework!r}")
    with PeakRss() as watch:
        one_pass()
    return {"task": task, "framework": framework, "batches": len(data), "architecture": reference.architecture,
            "rss_before_training_bytes": before, "peak_rss_bytes": watch.peak}


def memory(settings):
    """One fresh process per task and framework; returns their measurements.

    Args:
        settings: a benchmark mode's settings (`memory_batches`, `char_units`, `sentiment_examples`).

    Example:

    >>> rows = memory({"memory_batches": 2, "char_units": 16, "sentiment_examples": 64})  # doctest: +SKIP
    >>> len(rows)  # doctest: +SKIP
    6
    """
    rows = []
    for task in TASKS:
        for framework in FRAMEWORKS:
            command = [sys.executable, "-m", "benchmarks.memory", task, framework,
                       "--batches", str(settings["memory_batches"]), "--char-units", str(settings["char_units"])]
            if settings.get("sentiment_examples"):
                command += ["--sentiment-examples", str(settings["sentiment_examples"])]
            print(f"[benchmarks]   memory: {task} {framework}", flush=True)
            finished = subprocess.run(command, capture_output=True, text=True, check=False,
                                      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
            if finished.returncode != 0:
                raise RuntimeError(f"memory measurement {task}/{framework} failed:\n{finished.stderr[-2000:]}")
            rows.append(json.loads(finished.stdout.strip().splitlines()[-1]))
    return rows


def main(argv=None):
    """Measure one (task, framework) and print the result as one JSON line.

    Example:

    >>> main(["pos", "kerasrnn", "--batches", "2"])  # doctest: +SKIP
    """
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=TASKS)
    parser.add_argument("framework", choices=FRAMEWORKS)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--char-units", type=int, default=512)
    parser.add_argument("--sentiment-examples", type=int, default=None)
    arguments = parser.parse_args(argv)
    settings = {"char_units": arguments.char_units, "sentiment_examples": arguments.sentiment_examples}
    print(json.dumps(measure_in_this_process(arguments.task, arguments.framework, arguments.batches, settings)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
