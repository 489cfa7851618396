"""Run every benchmark and write benchmarks/RESULTS.md: `python -m benchmarks.run [--quick|--full]`.

Run it from the repository root (the data sets are read from ../shared/data).
It prints one line as each stage starts and ends, with the time since the
start. How long it runs, on the 2-core development machine:

- `--full`: 46 min 27 s measured (2,787 s on 2026-11-23, every section).
- `--quick` (the default): about 20 minutes (15 to 25), an ESTIMATE, not
  a whole run. Measured on 2026-12-05 at load average 0.3-3 (two other
  users' tests beside it): start-up and matmul peak 5 s, generation 24 s,
  serving 165 s. Estimated from the work quick mode gives them (4 batches
  x 3 repetitions, against full mode's 12 x 5) and full mode's runs:
  training 6-8 min (char LM 2.5, sentiment 3-4, tagger under 1),
  subnormals about 3 min and memory about 4 min (fresh processes).
- `--tiny`: seconds per section; for the test suite.
- `--only SECTION`: that section alone (see each one's time above).

The training, subnormals, epochs and memory sections compare with PyTorch,
and serving with a Flask server (`pip install -e ".[bench]"`); a section
whose package is missing is refused at the start.
"""

import argparse
import contextlib
import importlib.util
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# What each section imports beyond kerasrnn (the `bench` extra): checked before anything runs, so a
# missing one is one line at the start, not a traceback (or a 3-minute wait for a server that died) later.
SECTION_NEEDS = {"training": ("torch",), "subnormals": ("torch",), "epochs": ("torch",), "memory": ("torch",),
                 "serving": ("flask",)}

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


class Progress:
    """One line per stage on stdout, with the time since the run started: a long run is never silent.

    Args:
        started: `time.time()` at the start of the run.

    Example:

    >>> progress = Progress(time.time() - 75)
    >>> progress.say("generation: ...")
    [benchmarks 1:15] generation: ...
    """

    def __init__(self, started):
        self.started = started

    def say(self, message):
        elapsed = int(time.time() - self.started)
        print(f"[benchmarks {elapsed // 60}:{elapsed % 60:02d}] {message}", flush=True)

    @contextlib.contextmanager
    def stage(self, name, description):
        """Say `name: description` as the stage starts, and how long it took when it ends (or fails)."""
        started = time.time()
        self.say(f"{name}: {description}")
        try:
            yield
        except BaseException:
            self.say(f"{name}: failed after {time.time() - started:.0f} s")
            raise
        self.say(f"{name}: done in {time.time() - started:.0f} s")


def main(argv=None):
    """Measure, print how, and write the JSON results and RESULTS.md.

    Args:
        argv: command-line arguments (`--quick`, `--full`, `--tiny`, `--out DIR`, `--only SECTION`).

    Example:

    >>> main(["--tiny", "--out", "/tmp/bench-doctest"])  # doctest: +SKIP
    """
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_const", const="quick", dest="mode",
                      help="the default: about 20 minutes on 2 cores (an estimate; see above)")
    mode.add_argument("--full", action="store_const", const="full", dest="mode",
                      help="about 46 minutes on 2 cores (measured)")
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
    sections = arguments.only or settings["sections"]
    started = time.time()
    progress = Progress(started)
    progress.say(f"mode={name}, sections {', '.join(sections)}: importing TensorFlow (and PyTorch)")
    needs = {section: SECTION_NEEDS.get(section, ()) for section in sections}
    if "accuracy" in sections and settings["accuracy_torch"]:
        needs["accuracy"] = ("torch",)
    missing = sorted({module for modules in needs.values() for module in modules
                      if importlib.util.find_spec(module) is None})
    if missing:
        refused = [section for section, modules in needs.items() if set(modules) & set(missing)]
        parser.exit(2, f"benchmarks.run: error: the {', '.join(refused)} section(s) need {' and '.join(missing)}, "
                       'which is not installed: pip install -e ".[bench]" (or pick other sections with --only)\n')
    if importlib.util.find_spec("torch") is not None:
        from benchmarks.torch_models import flush_subnormals_in_every_thread

        # Before PyTorch's first operation, so its worker threads inherit it.
        flush_subnormals_in_every_thread()

    from benchmarks import serving_speed
    from benchmarks.measure import machine_description
    from benchmarks.peak import matmul_peak
    from benchmarks.report import write_report

    previous = os.path.join(arguments.out, "results.json")
    if arguments.only and os.path.exists(previous):
        # A partial run updates its sections and keeps the others (and their
        # machine description and peak) as the earlier run measured them.
        with open(previous, encoding="utf-8") as file:
            results = json.load(file)
    else:
        results = {"mode": name, "settings": dict(settings), "machine": machine_description()}
    section_runs = results.setdefault("section_runs", {})
    if not arguments.task:
        # A section measured for every task replaces its rows and the records of earlier one-task runs.
        for section in sections:
            for name in [name for name in section_runs if name.startswith(f"{section} (")]:
                del section_runs[name]
    progress.say(f"mode={name} sections={sections} machine={results['machine']}")
    if "peak" in results:
        # Rows measured before keep the peak of their own run when this run measures a new one.
        for row in results.get("training", []):
            row.setdefault("peak_gflops", results["peak"]["peak"])
    if "peak" not in results or "training" in sections:
        with progress.stage("matmul peak", "8 chained float32 matmuls per repetition, median of 3, TF (and PyTorch)"):
            results["peak"] = matmul_peak(n=512 if name == "tiny" else 2048)
        progress.say(f"peak GFLOP/s: {results['peak']}")
    tasks = arguments.task or list(TRAINING_TASKS)
    if "training" in sections:
        from benchmarks import training_speed

        # Rows of the tasks not measured now stay as measured before (their run date is in section_runs).
        kept = [row for row in results.get("training", []) if row["task"] not in tasks]
        results["training"] = kept
        for task in tasks:
            measure = getattr(training_speed, task)
            with progress.stage(f"training ({task})", measure.__doc__.splitlines()[0]):
                results["training"] += [{**row, "peak_gflops": results["peak"]["peak"]} for row in measure(settings)]
    if "subnormals" in sections:
        from benchmarks.subnormals import subnormals

        with progress.stage("subnormals", "PyTorch keras-io architecture, flushed vs default, fresh processes"):
            results["subnormals"] = subnormals(settings)
    if "epochs" in sections:
        from benchmarks.full_epochs import full_epochs

        with progress.stage("epochs", "full training data, kerasrnn vs PyTorch, epochs interleaved"):
            epoch_tasks = [task for task in settings["epoch_tasks"] if task in tasks]
            kept = [row for row in results.get("epochs", []) if row["task"] not in epoch_tasks]
            results["epochs"] = kept + full_epochs({**settings, "epoch_tasks": epoch_tasks})
    with tempfile.TemporaryDirectory() as work_dir:
        if "generation" in sections:
            with progress.stage("generation", "exported `generate` vs model.predict per character (trains a char LM "
                                "first)"):
                results["generation"] = serving_speed.generation(settings, work_dir)
        if "serving" in sections:
            with progress.stage("serving", "kerasrnn serve vs naive Flask, loopback clients (trains a classifier "
                                "first)"):
                results["serving"] = serving_speed.serving(settings, work_dir)
    if "accuracy" in sections:
        from benchmarks.imdb_accuracy import epochs_to_accuracy

        with progress.stage("accuracy", "IMDB full data, keras-io recipe vs kerasrnn train sentiment defaults, "
                            "epochs interleaved"):
            results["accuracy"] = epochs_to_accuracy(settings)
    if "memory" in sections:
        from benchmarks.memory import memory

        with progress.stage("memory", "one fresh process per reference model and framework"):
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
    progress.say(f"finished: wrote {os.path.join(arguments.out, 'results.json')} and RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
