"""Run every benchmark and write benchmarks/RESULTS.md: `python -m benchmarks.run [--quick|--full]`.

Run it from the repository root (the data sets are read from ../shared/data).
"""

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Each is a row's `task` in results.json and the name of its measuring function in training_speed.
TRAINING_TASKS = ("char_lm", "sentiment", "pos")

# How much each mode measures. Every figure is a median of `repetitions`.
MODES = {
    "tiny": dict(char_units=32, batches=2, repetitions=3, sentiment_examples=300, adapt_reviews=300,
                 serving_train_examples=64, charlm_train_windows=64, clients=(1, 8), load_seconds=0.5,
                 max_requests=50, generate_chars=20, predict_loop_chars=3, accuracy_epochs=1, accuracy_reviews=300,
                 accuracy_torch=False,
                 memory_batches=2, epoch_tasks=("char_lm", "pos"), full_epochs=3, epoch_batches=2, subnormal_batches=2,
                 sections=("training", "generation", "serving")),
    "quick": dict(char_units=512, batches=4, repetitions=3, sentiment_examples=3000, adapt_reviews=3000,
                  serving_train_examples=500, charlm_train_windows=256, clients=(1, 8, 32), load_seconds=4.0,
                  max_requests=3000, generate_chars=300, predict_loop_chars=20, accuracy_epochs=3,
                  accuracy_torch=False,
                  memory_batches=10, epoch_tasks=("char_lm", "pos"), full_epochs=3, subnormal_batches=6,
                  sections=("training", "subnormals", "generation", "serving", "memory")),
    "full": dict(char_units=512, batches=12, repetitions=5, sentiment_examples=None, adapt_reviews=25000,
                 serving_train_examples=2000, charlm_train_windows=1000, clients=(1, 8, 32), load_seconds=10.0,
                 max_requests=20000, generate_chars=1000, predict_loop_chars=50, accuracy_epochs=3,
                 # The PyTorch twin of the IMDB accuracy run: ~3x slower per epoch than Keras here, so opt-in
                 # (`--accuracy-torch`); the training section's same-batch rows are the PyTorch comparison.
                 accuracy_torch=False,
                 memory_batches=20, epoch_tasks=("char_lm", "pos"), full_epochs=3, subnormal_batches=10,
                 sections=("training", "subnormals", "epochs", "generation", "serving", "accuracy", "memory")),
}


def main(argv=None):
    """Measure, print how, and write the JSON results and RESULTS.md.

    Args:
        argv: command-line arguments (`--quick`, `--full`, `--tiny`, `--out DIR`, `--only SECTION`).

    Example:

    >>> main(["--tiny", "--out", "/tmp/bench-doctest"])  # doctest: +SKIP
    """
    parser = argparse.ArgumentParser(description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_const", const="quick", dest="mode")
    mode.add_argument("--full", action="store_const", const="full", dest="mode")
    mode.add_argument("--tiny", action="store_const", const="tiny", dest="mode", help="seconds; for the test suite")
    parser.add_argument("--out", default="benchmarks", help="where RESULTS.md and results.json go")
    parser.add_argument(
        "--only",
        action="append",
        choices=["training", "subnormals", "epochs", "generation", "serving", "accuracy", "memory"],
        help="measure only this section and merge it into the results.json already in --out",
    )
    parser.add_argument(
        "--task",
        action="append",
        choices=list(TRAINING_TASKS),
        help="with --only training/epochs: measure only this task and keep the other tasks' rows of results.json",
    )
    parser.add_argument("--accuracy-torch", action="store_true",
                        help="the accuracy section also trains the kerasrnn defaults' architecture in PyTorch")
    parser.add_argument("--report-from", metavar="JSON", help="only rewrite RESULTS.md from a saved results.json")
    arguments = parser.parse_args(argv)
    if arguments.task and not arguments.only:
        parser.error("--task needs --only (training or epochs): a full run measures every task")
    if arguments.report_from:
        from benchmarks.report import write_report

        with open(arguments.report_from, encoding="utf-8") as file:
            write_report(json.load(file), os.path.join(arguments.out, "RESULTS.md"))
        return 0
    name = arguments.mode or "quick"
    settings = dict(MODES[name])
    if arguments.accuracy_torch:
        settings["accuracy_torch"] = True

    from benchmarks import serving_speed, training_speed
    from benchmarks.measure import machine_description
    from benchmarks.peak import matmul_peak
    from benchmarks.report import write_report
    from benchmarks.torch_models import flush_subnormals_in_every_thread

    # Before PyTorch's first operation, so its worker threads inherit it.
    flush_subnormals_in_every_thread()

    started = time.time()
    sections = arguments.only or settings["sections"]
    previous = os.path.join(arguments.out, "results.json")
    if arguments.only and os.path.exists(previous):
        # A partial run updates its sections and keeps the others (and their
        # machine description and peak) as the earlier run measured them.
        with open(previous, encoding="utf-8") as file:
            results = json.load(file)
    else:
        results = {"mode": name, "settings": dict(settings), "machine": machine_description()}
    section_runs = results.setdefault("section_runs", {})
    print(f"[benchmarks] mode={name} sections={sections} machine={results['machine']}", flush=True)
    if "peak" in results:
        # Rows measured before keep the peak of their own run when this run measures a new one.
        for row in results.get("training", []):
            row.setdefault("peak_gflops", results["peak"]["peak"])
    if "peak" not in results or "training" in sections:
        print("[benchmarks] matmul peak: 8 chained float32 matmuls per repetition, median of 3, TF and PyTorch",
              flush=True)
        results["peak"] = matmul_peak(n=512 if name == "tiny" else 2048)
        print(f"[benchmarks] peak GFLOP/s: {results['peak']}", flush=True)
    tasks = arguments.task or list(TRAINING_TASKS)
    if "training" in sections:
        # Rows of the tasks not measured now stay as measured before (their run date is in section_runs).
        kept = [row for row in results.get("training", []) if row["task"] not in tasks]
        results["training"] = kept
        for task in tasks:
            measure = getattr(training_speed, task)
            print(f"[benchmarks] training: {measure.__doc__.splitlines()[0]}", flush=True)
            results["training"] += [{**row, "peak_gflops": results["peak"]["peak"]} for row in measure(settings)]
    if "subnormals" in sections:
        from benchmarks.subnormals import subnormals

        print("[benchmarks] subnormals: PyTorch keras-io architecture, flushed vs default, fresh processes", flush=True)
        results["subnormals"] = subnormals(settings)
    if "epochs" in sections:
        from benchmarks.full_epochs import full_epochs

        print("[benchmarks] epochs: full training data, kerasrnn vs PyTorch, epochs interleaved", flush=True)
        epoch_tasks = [task for task in settings["epoch_tasks"] if task in tasks]
        kept = [row for row in results.get("epochs", []) if row["task"] not in epoch_tasks]
        results["epochs"] = kept + full_epochs({**settings, "epoch_tasks": epoch_tasks})
    with tempfile.TemporaryDirectory() as work_dir:
        if "generation" in sections:
            print("[benchmarks] generation: exported `generate` vs model.predict per character", flush=True)
            results["generation"] = serving_speed.generation(settings, work_dir)
        if "serving" in sections:
            print("[benchmarks] serving: kerasrnn serve vs naive Flask, loopback clients", flush=True)
            results["serving"] = serving_speed.serving(settings, work_dir)
    if "accuracy" in sections:
        from benchmarks.imdb_accuracy import epochs_to_accuracy

        print("[benchmarks] accuracy: IMDB full data, keras-io recipe vs kerasrnn train sentiment defaults, epochs "
              "interleaved", flush=True)
        results["accuracy"] = epochs_to_accuracy(settings)
    if "memory" in sections:
        from benchmarks.memory import memory

        print("[benchmarks] memory: one fresh process per reference model and framework", flush=True)
        results["memory"] = memory(settings)
    for section in sections:
        command = " ".join(["python -m benchmarks.run", *(sys.argv[1:] if argv is None else argv)])
        if arguments.task and section in ("training", "epochs"):
            # The section's other rows keep their own run's record.
            section = f"{section} ({', '.join(tasks)})"
        section_runs[section] = {"mode": name, "date": machine_description()["date"], "command": command,
                                 "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
                                 "wall_seconds_of_run": round(time.time() - started, 1)}
    if not arguments.only or "wall_seconds" not in results:
        results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        results["wall_seconds"] = round(time.time() - started, 1)
    os.makedirs(arguments.out, exist_ok=True)
    with open(os.path.join(arguments.out, "results.json"), "w", encoding="utf-8") as file:
        json.dump(results, file, indent=1, default=str)
    report = write_report(results, os.path.join(arguments.out, "RESULTS.md"))
    print(report, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
