"""`kerasrnn train --strategy`: TF_CONFIG checks, mirrored over two logical CPUs, two real worker processes.

Every process started here has a deadline and is killed in `finally`;
workers talk over 127.0.0.1 ports picked free just before they start.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import keras
import pytest

from conftest import EWT_DIR, IMDB_TARBALL, SHAKESPEARE
from kerasrnn.cli import main
from kerasrnn.training.distribute import ClusterSetupError, make_strategy, read_tf_config
from kerasrnn.tasks.registry import get_task
from kerasrnn.training.trainer import train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = {"sentiment": IMDB_TARBALL, "pos_tagger": EWT_DIR, "char_lm": SHAKESPEARE}
# Small real subsets and small networks: each two-worker training takes well under a minute here.
TRAIN_ARGUMENTS = {
    "sentiment": ["--max-examples", "300", "--units", "16", "--embedding-dim", "16", "--max-length", "100"],
    "pos_tagger": ["--max-examples", "300", "--units", "16", "--embedding-dim", "16"],
    "char_lm": ["--max-examples", "300", "--units", "16", "--seq-len", "50", "--stateful"],
}
WORKER_DEADLINE = 300  # seconds; a hung worker fails the test instead of hanging it
# Two workers with the global batch of one see the same batches, so they differ from a
# single-process run only by float summation order and per-replica metric averaging.
LOSS_TOLERANCE = 0.02


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tf_config(ports, index):
    return json.dumps(
        {"cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]}, "task": {"type": "worker", "index": index}}
    )


def environment(**extra):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), TF_CPP_MIN_LOG_LEVEL="3")
    env.update(extra)
    return env


def start_worker(ports, index, arguments, log_path):
    log = open(log_path, "w")
    return subprocess.Popen(
        [sys.executable, "-m", "kerasrnn.cli", "train", *arguments, "--strategy", "multi-worker",
         "--peer-timeout", "60"],
        cwd=ROOT, env=environment(TF_CONFIG=tf_config(ports, index)), stdout=log, stderr=subprocess.STDOUT,
    )


def stop(processes):
    for process in processes:
        if process.poll() is None:
            process.kill()  # a TensorFlow process blocked in a collective ignores SIGTERM
            process.wait(timeout=30)


def wait_all(processes, deadline=WORKER_DEADLINE):
    end = time.monotonic() + deadline
    for process in processes:
        process.wait(timeout=max(1, end - time.monotonic()))
    return [process.returncode for process in processes]


def last_json_line(log_path):
    lines = [line for line in open(log_path).read().splitlines() if line.startswith("{")]
    assert lines, open(log_path).read()[-3000:]
    return json.loads(lines[-1])


def files_under(path):
    return sorted(os.path.relpath(os.path.join(folder, name), path) for folder, _, names in os.walk(path) for name in names)


# -- TF_CONFIG and set-up errors ---------------------------------------------


@pytest.mark.parametrize(
    "value, message",
    [
        ("{not json", "TF_CONFIG is not JSON"),
        (json.dumps({"task": {"type": "worker", "index": 0}}), 'with "cluster" and "task"'),
        (json.dumps({"cluster": {"worker": ["127.0.0.1:1"]}}), 'with "cluster" and "task"'),
        (json.dumps({"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 2}}),
         "index 2 is out of range: the cluster has 2 'worker' tasks"),
        (json.dumps({"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "chief", "index": 0}}),
         "type 'chief' is not a job"),
        (json.dumps({"cluster": {"worker": ["no-port"]}, "task": {"type": "worker", "index": 0}}), '"host:port"'),
        (json.dumps({"cluster": {"ps": ["127.0.0.1:1"]}, "task": {"type": "ps", "index": 0}}), "'ps' job"),
    ],
)
def test_broken_tf_config_is_one_clear_error(value, message):
    with pytest.raises(ClusterSetupError, match=message.replace("(", r"\(").replace('"', '"')):
        read_tf_config({"TF_CONFIG": value})


def test_missing_tf_config_says_what_to_set():
    with pytest.raises(ClusterSetupError, match="TF_CONFIG is not set"):
        read_tf_config({})


def test_valid_tf_config_with_a_chief():
    config = {"cluster": {"chief": ["a:1"], "worker": ["b:2", "c:3"]}, "task": {"type": "worker", "index": 1}}
    assert read_tf_config({"TF_CONFIG": json.dumps(config)}) == (config["cluster"], "worker", 1)


def test_unknown_strategy_names_the_argument(tmp_path):
    with pytest.raises(ValueError, match="`strategy` must be one of default, mirrored, multi-worker"):
        make_strategy("tpu")


@pytest.mark.parametrize("value", ["{not json", json.dumps({"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 3}})])
def test_cli_bad_tf_config_exits_2_with_one_line(value, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", value)
    status = main(["train", "pos_tagger", "--data", EWT_DIR, "--out", str(tmp_path / "run"), "--strategy", "multi-worker"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("kerasrnn train: error: TF_CONFIG"), err
    assert not (tmp_path / "run").exists()


def test_a_peer_that_never_comes_up_times_out_naming_its_address(tmp_path):
    ports = free_ports(2)  # nothing will listen on the second one
    log = tmp_path / "worker0.log"
    worker = None
    started = time.monotonic()
    try:
        with open(log, "w") as output:
            worker = subprocess.Popen(
                [sys.executable, "-m", "kerasrnn.cli", "train", "pos_tagger", "--data", EWT_DIR, "--out",
                 str(tmp_path / "run"), "--strategy", "multi-worker", "--peer-timeout", "3"],
                cwd=ROOT, env=environment(TF_CONFIG=tf_config(ports, 0)), stdout=output, stderr=subprocess.PIPE,
                text=True,
            )
            _, err = worker.communicate(timeout=120)
    finally:
        stop([worker] if worker else [])
    assert worker.returncode == 2, err
    assert err.count("\n") == 1, err
    assert f"waiting for 127.0.0.1:{ports[1]} to join" in err and "peer_timeout=3" in err, err
    assert time.monotonic() - started < 60


# -- mirrored over two logical CPU devices ------------------------------------

MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    # Logical devices must be configured before TensorFlow initializes: hence a fresh process.
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from kerasrnn.training.trainer import train
    out, data = sys.argv[1], json.loads(sys.argv[2])
    runs = [("char_lm", {"units": 8}, {"stateful": True, "seq_len": 20}),
            ("pos_tagger", {"units": 8, "embedding_dim": 8}, {}),
            ("sentiment", {"units": 8, "embedding_dim": 8}, {"max_length": 100})]
    for task, options, data_options in runs:
        metrics = train(task, data[task], f"{out}/{task}", options, data_options, epochs=1, max_examples=100,
                        batch_size=8, strategy="mirrored", verbose=0)
        model = keras.saving.load_model(f"{out}/{task}/model.keras")
        print(json.dumps({"task": task, "replicas": metrics.get("replicas"), "loss": metrics["loss"],
                          "class": type(model).__name__}), flush=True)
    """
)


def test_mirrored_over_two_logical_cpus_trains_every_task(tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED_SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "runs"), json.dumps(DATA)],
        cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=WORKER_DEADLINE,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [line["task"] for line in lines] == ["char_lm", "pos_tagger", "sentiment"]
    for line in lines:
        assert line["replicas"] == 2, line
        assert 0 < line["loss"] < 10, line
    assert [line["class"] for line in lines] == ["CharLanguageModel", "PosTagger", "SentimentClassifier"]


# -- two real worker processes ------------------------------------------------


def validation_loss(model_path, task, data_arguments):
    """The loss of a saved model on the task's validation batches, in this (single) process."""
    model = keras.saving.load_model(model_path)
    data = get_task(task).data().prepare(DATA[task], **data_arguments)
    return model.evaluate(data.validation, verbose=0, return_dict=True)["loss"]


# pos_tagger in the default run; the other tasks (about a minute each here) with --runslow.
@pytest.mark.parametrize(
    "task", ["pos_tagger", pytest.param("char_lm", marks=pytest.mark.slow), pytest.param("sentiment", marks=pytest.mark.slow)]
)
def test_two_workers_train_like_one_and_only_the_chief_writes(task, tmp_path):
    ports = free_ports(2)
    chief_out, other_out = tmp_path / "chief", tmp_path / "other"
    common = [task, "--data", DATA[task], "--epochs", "2", "--batch-size", "32", *TRAIN_ARGUMENTS[task]]
    workers = []
    try:
        for index, out in enumerate((chief_out, other_out)):
            # Each worker gets its own --out, as on machines without a shared disk.
            workers.append(start_worker(ports, index, [*common, "--out", str(out)], tmp_path / f"w{index}.log"))
        codes = wait_all(workers)
    finally:
        stop(workers)
    logs = [(tmp_path / f"w{index}.log").read_text()[-3000:] for index in range(2)]
    assert codes == [0, 0], logs
    metrics = [last_json_line(tmp_path / f"w{index}.log") for index in range(2)]
    assert metrics[0] == metrics[1] and metrics[0]["replicas"] == 2
    assert files_under(chief_out) == ["epochs.csv", "history.json", "metrics.json", "model.keras", "run.json",
                                      "spec.json"]
    assert files_under(other_out) == []  # its backup folder was removed at the end

    single_out = tmp_path / "single"
    options = {"units": 16, "embedding_dim": 16} if task != "char_lm" else {"units": 16}
    data_options = {"sentiment": {"max_length": 100}, "char_lm": {"seq_len": 50, "stateful": True}}.get(task, {})
    single = train(task, DATA[task], str(single_out), options, data_options, epochs=2, batch_size=32,
                   max_examples=300, verbose=0)
    assert metrics[0]["loss"] == pytest.approx(single["loss"], abs=LOSS_TOLERANCE)
    data_arguments = {"batch_size": 32, "max_examples": 300, **{k: v for k, v in data_options.items() if k != "stateful"}}
    distributed_loss = validation_loss(chief_out / "model.keras", task, data_arguments)
    single_loss = validation_loss(single_out / "model.keras", task, data_arguments)
    assert distributed_loss == pytest.approx(single_loss, abs=LOSS_TOLERANCE)


@pytest.mark.slow  # two workers, a kill and a restart: about 80 s here
def test_a_killed_worker_resumes_from_the_backup(tmp_path):
    ports = free_ports(2)
    out = tmp_path / "run"
    arguments = ["pos_tagger", "--data", EWT_DIR, "--out", str(out), "--epochs", "6", "--batch-size", "32",
                 "--max-examples", "600", "--units", "16", "--embedding-dim", "16"]
    metadata = out / "backup" / "training_metadata.json"
    other_metadata = out / "workertemp_1" / "training_metadata.json"

    def backed_up_epochs():
        try:
            return {json.loads(path.read_text())["epoch"] for path in (metadata, other_metadata)}
        except (OSError, ValueError):
            return set()
    workers = []
    try:
        workers = [start_worker(ports, index, arguments, tmp_path / f"first{index}.log") for index in range(2)]
        end = time.monotonic() + WORKER_DEADLINE
        # Both workers' backups at the same finished epoch (see the README's caveat).
        while len(backed_up_epochs()) != 1 and time.monotonic() < end and workers[0].poll() is None:
            time.sleep(0.1)
        assert len(backed_up_epochs()) == 1, (tmp_path / "first0.log").read_text()[-3000:]
        workers[1].send_signal(signal.SIGKILL)  # worker 1 dies mid-training
        workers[1].wait(timeout=30)
        # The chief's collectives fail once the health check sees the peer gone.
        workers[0].wait(timeout=120)
        assert workers[0].returncode != 0
        interrupted_at = json.loads(metadata.read_text())["epoch"]
        assert 1 <= interrupted_at < 6
        # A cluster manager restarts the workers with the same command; they resume.
        workers = [start_worker(ports, index, arguments, tmp_path / f"second{index}.log") for index in range(2)]
        codes = wait_all(workers)
    finally:
        stop(workers)
    assert codes == [0, 0], (tmp_path / "second0.log").read_text()[-3000:]
    history = json.loads((out / "history.json").read_text())
    # Only the epochs after the backup ran again.
    assert len(history["loss"]) == 6 - interrupted_at, (interrupted_at, history)
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 6
    assert files_under(out) == ["epochs.csv", "history.json", "metrics.json", "model.keras", "run.json", "spec.json"]
