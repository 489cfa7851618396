"""The cost of a `tf.distribute` strategy on one host: the step time of `kerasrnn train` under each.

Runs the same small real-data training (UD English EWT, the first 600 sentences, a BiLSTM-64
tagger, global batch 32, two epochs) in fresh processes under: no strategy; `mirrored` over the
process's one CPU device (what `--strategy mirrored` does on a machine without GPUs); `mirrored`
over two logical CPU devices; and two local `multi-worker` processes on loopback ports. Each
step of the second epoch is timed with a Keras callback (`on_train_batch_begin/end`); the row
gives the median over steps of the median over repetitions, the configurations interleaved.

On a 2-core machine none of these can be faster than one process: the replicas share the same
two cores (TensorFlow's own ops already use both), and every step adds an all-reduce of the
gradients — in-process for mirrored, over loopback gRPC for two workers.

Usage: `python -m benchmarks.strategy_cost [--repeats 3] [--examples 600]`

Example:

>>> main(["--repeats", "1"])  # doctest: +SKIP
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile

from kerasrnn.shared_data import EWT_DIR

RUN = r"""
import json, os, sys, time
config = json.loads(sys.argv[1])
import tensorflow as tf
if config.get("logical_cpus"):
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * config["logical_cpus"])
import keras
from kerasrnn.training.trainer import train

times = []

class StepTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
    def on_train_batch_begin(self, batch, logs=None):
        self.started = time.perf_counter()
    def on_train_batch_end(self, batch, logs=None):
        times.append((self.epoch, time.perf_counter() - self.started))

train("pos_tagger", config["data"], config["out"], {"units": 64, "embedding_dim": 64}, epochs=2, batch_size=32,
      max_examples=config["examples"], verbose=0, strategy=config["strategy"], callbacks=[StepTimer()])
second = [seconds for epoch, seconds in times if epoch == 1]
print("RESULT " + json.dumps({"median_step_ms": 1000 * sorted(second)[len(second) // 2], "steps": len(second)}))
"""

CONFIGURATIONS = {
    "default (no strategy)": {"strategy": "default"},
    "mirrored, 1 CPU device (--strategy mirrored)": {"strategy": "mirrored"},
    "mirrored, 2 logical CPU devices": {"strategy": "mirrored", "logical_cpus": 2},
    "multi-worker, 2 local processes": {"strategy": "multi-worker", "workers": 2},
}


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(configuration, examples, work):
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    workers = configuration.get("workers", 1)
    ports = [_free_port() for _ in range(workers)]
    processes = []
    for index in range(workers):
        config = {**configuration, "data": EWT_DIR, "examples": examples, "out": os.path.join(work, f"out{index}")}
        env = dict(environment)
        if workers > 1:
            env["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
                                           "task": {"type": "worker", "index": index}})
        processes.append(subprocess.Popen([sys.executable, "-c", RUN, json.dumps(config)], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        outputs = [process.communicate(timeout=600) for process in processes]
    finally:
        for process in processes:
            process.kill()
    chief_out, chief_err = outputs[0]
    lines = [line for line in chief_out.splitlines() if line.startswith("RESULT ")]
    if processes[0].returncode != 0 or not lines:
        raise RuntimeError(f"{configuration} failed:\n{chief_err[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def main(argv=None):
    """Measure every configuration `--repeats` times, interleaved; print a Markdown table and JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--examples", type=int, default=600)
    arguments = parser.parse_args(argv)
    medians = {name: [] for name in CONFIGURATIONS}
    steps = {}
    with tempfile.TemporaryDirectory() as work:
        for repeat in range(arguments.repeats):
            for name, configuration in CONFIGURATIONS.items():
                result = _run(configuration, arguments.examples, os.path.join(work, f"{repeat}-{len(medians[name])}-{abs(hash(name))}"))
                medians[name].append(result["median_step_ms"])
                steps[name] = result["steps"]
                print(f"# repeat {repeat + 1}: {name}: {result['median_step_ms']:.0f} ms/step", flush=True)
    baseline = statistics.median(medians["default (no strategy)"])
    print(f"\nEWT pos_tagger, first {arguments.examples} sentences, BiLSTM-64, global batch 32; "
          f"median step of epoch 2, median of {arguments.repeats} interleaved fresh-process runs; "
          f"{os.cpu_count()} CPU cores.\n")
    print("| strategy | steps per epoch | step time (ms) | vs no strategy |\n|---|---|---|---|")
    for name in CONFIGURATIONS:
        median = statistics.median(medians[name])
        print(f"| {name} | {steps[name]} | {median:.0f} | {median / baseline:.2f}× |")
    print(json.dumps({"medians_ms": medians}))


if __name__ == "__main__":
    main()
