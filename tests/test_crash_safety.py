"""Issue 28: a training survives real failures: kill -9 at chosen moments, damaged checkpoints, a full disk,
and a second training into the same folder. Tiny trainings on the real Tiny Shakespeare.

The kills are real `SIGKILL`s of a real `python -m kerasrnn.cli train` process, sent when the test sees the
moment on the disk (a temporary checkpoint file appearing, the last epoch's checkpoint committed); the full disk
is a real tmpfs of a few hundred KiB (skipped where mounting is not permitted).
"""

import contextlib
import errno
import json
import os
import re
import signal
import subprocess
import sys
import time

import keras
import pytest

from conftest import SHAKESPEARE
from kerasrnn.atomic_files import DiskFullError, save_model
from kerasrnn.cli import main
from kerasrnn.training.trainer import train

# 2 batches of 16 windows of 20 characters per epoch: a second or two.
TINY = ["--max-examples", "32", "--batch-size", "16", "--seq-len", "20", "--cell", "gru", "--units", "8",
        "--num-layers", "1", "--embedding-dim", "8"]
TINY_OPTIONS = dict(
    builder_options={"cell": "gru", "units": 8, "num_layers": 1, "embedding_dim": 8},
    data_options={"seq_len": 20}, batch_size=16, max_examples=32, verbose=0,
)
# The same data with a wider network: its checkpoint (about 10 MB with the optimizer's slots) takes long
# enough to write that a test polling the folder sees the moment and kills the process inside it.
WIDE = [*TINY[:-6], "--units", "512", "--num-layers", "2", "--embedding-dim", "8"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def run_cli(capsys, *arguments):
    status = main([str(argument) for argument in arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def start_training(*arguments):
    return subprocess.Popen([sys.executable, "-m", "kerasrnn.cli", "train", *map(str, arguments)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def run_training(*arguments, timeout=300):
    return subprocess.run([sys.executable, "-m", "kerasrnn.cli", "train", *map(str, arguments)],
                          capture_output=True, text=True, env=ENV, timeout=timeout)


def kill_when(process, moment, timeout=240):
    """SIGKILL `process` as soon as `moment()` is true; return whether it was (False: it ended first)."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if moment():
            process.kill()
            process.communicate(timeout=60)
            return True
        time.sleep(0.001)
    process.kill()
    process.communicate(timeout=60)
    return False


def metadata(out):
    with open(out / "backup" / "training_metadata.json", encoding="utf-8") as file:
        return json.load(file)


def epoch_rows(out):
    return [row.split(",")[0] for row in (out / "epochs.csv").read_text().splitlines()[1:]]


class InterruptAfterEpoch(keras.callbacks.Callback):
    # After the checkpoint: fit's own callbacks (the checkpoint last) run before the caller's.
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise KeyboardInterrupt


def interrupted_run(out, done, epochs):
    with pytest.raises(KeyboardInterrupt):
        train("char_lm", SHAKESPEARE, str(out), epochs=epochs, callbacks=[InterruptAfterEpoch(done)], **TINY_OPTIONS)


@pytest.mark.parametrize("size", ["empty", "half"])
def test_a_damaged_newest_checkpoint_is_set_aside_and_the_run_resumes_from_the_one_before(tmp_path, capsys, size):
    out = tmp_path / "run"
    interrupted_run(out, done=2, epochs=3)
    assert sorted(os.listdir(out / "backup")) == ["epoch-1.weights.h5", "epoch-2.weights.h5",
                                                  "training_metadata.json"]
    newest = out / "backup" / "epoch-2.weights.h5"
    # What a kill (or a full disk) during an in-place write leaves: no bytes, or the first half.
    os.truncate(newest, 0 if size == "empty" else newest.stat().st_size // 2)
    status, out_text, err = run_cli(capsys, "train", "char_lm", "--data", SHAKESPEARE, "--out", out, *TINY,
                                    "--epochs", "3")
    assert status == 0, err
    message = [line for line in err.splitlines() if line.startswith("kerasrnn:")]
    assert len(message) == 1 and re.fullmatch(
        rf"kerasrnn: checkpoint {re.escape(str(newest))} is unreadable \(.+\); set aside as "
        r"epoch-2\.weights\.h5\.damaged; resuming from the checkpoint after epoch 1", message[0]), err
    assert len(json.loads((out / "history.json").read_text())["loss"]) == 2  # epochs 2 and 3 ran again
    assert epoch_rows(out) == ["0", "1", "2"]
    assert (out / "model.keras").is_file() and not (out / "backup").exists()


def test_the_empty_checkpoint_keras_own_callback_left_no_longer_stops_every_rerun(tmp_path, capsys):
    # The issue's folder: Keras' BackupAndRestore killed while rewriting latest.weights.h5 in place.
    backup = tmp_path / "run" / "backup"
    backup.mkdir(parents=True)
    (backup / "latest.weights.h5").write_bytes(b"")
    (backup / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')
    status, _, err = run_cli(capsys, "train", "char_lm", "--data", SHAKESPEARE, "--out", backup.parent, *TINY,
                             "--epochs", "2")
    assert status == 0, err
    assert re.search(r"^kerasrnn: checkpoint .*latest\.weights\.h5 is unreadable \(.*file signature not found.*\); "
                     r"set aside as latest\.weights\.h5\.damaged; no earlier checkpoint: training starts again "
                     r"from the first epoch$", err, re.M), err
    assert len(json.loads((backup.parent / "history.json").read_text())["loss"]) == 2


def test_a_folder_from_keras_own_callback_still_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    model_dir = tmp_path / "keras"
    # A checkpoint as Keras' BackupAndRestore writes it, of this very network after one epoch.
    interrupted_run(model_dir, done=1, epochs=2)
    (out / "backup").mkdir(parents=True)
    os.replace(model_dir / "backup" / "epoch-1.weights.h5", out / "backup" / "latest.weights.h5")
    (out / "backup" / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')
    status, _, err = run_cli(capsys, "train", "char_lm", "--data", SHAKESPEARE, "--out", out, *TINY, "--epochs", "2")
    assert status == 0 and "kerasrnn:" not in err, err
    assert len(json.loads((out / "history.json").read_text())["loss"]) == 1  # only epoch 2 ran


def test_kill_9_while_a_checkpoint_is_written_then_the_same_command_resumes(tmp_path):
    out = tmp_path / "run"
    arguments = ["char_lm", "--data", SHAKESPEARE, "--out", out, *WIDE, "--epochs", "3"]
    training = start_training(*arguments)
    # The moment of the issue: the second epoch's checkpoint half written.
    caught = kill_when(training, lambda: os.path.exists(out / "backup" / "partial.epoch-2.weights.h5"))
    assert caught, "the training ended before its second checkpoint was being written"
    assert training.returncode == -signal.SIGKILL
    assert metadata(out)["epoch"] == 1  # the commit point still names the complete first checkpoint
    assert (out / "train.lock").exists()  # left by the dead process: the rerun takes it over
    resumed = run_training(*arguments)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "kerasrnn:" not in resumed.stderr  # nothing was damaged: no checkpoint set aside
    assert len(json.loads((out / "history.json").read_text())["loss"]) == 2  # epochs 2 and 3
    assert epoch_rows(out) == ["0", "1", "2"]
    assert sorted(os.listdir(out)) == ["epochs.csv", "history.json", "metrics.json", "model.keras", "run.json",
                                       "spec.json"]


def test_kill_9_after_training_before_model_keras_keeps_every_epoch(tmp_path):
    out = tmp_path / "run"
    arguments = ["char_lm", "--data", SHAKESPEARE, "--out", out, *WIDE, "--epochs", "2"]
    training = start_training(*arguments)

    def trained_but_not_saved():
        with contextlib.suppress(OSError, ValueError):
            return metadata(out)["epoch"] == 2 and not (out / "model.keras").exists()
        return False

    assert kill_when(training, trained_but_not_saved), "the training ended before the moment"
    rows = (out / "epochs.csv").read_text()
    resumed = run_training(*arguments)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (out / "epochs.csv").read_text() == rows  # no epoch trained again
    metrics = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert metrics["epochs"] == 2 and metrics["loss"] > 0
    assert len(json.loads((out / "history.json").read_text())["loss"]) >= 1
    assert (out / "model.keras").is_file() and not (out / "backup").exists()


def test_a_second_training_into_the_same_folder_is_refused_naming_the_pid(tmp_path, capsys):
    out = tmp_path / "run"
    arguments = ["char_lm", "--data", SHAKESPEARE, "--out", out, *TINY, "--epochs", "200"]
    first = start_training(*arguments)
    try:
        lock = out / "train.lock"
        deadline = time.monotonic() + 120
        while first.poll() is None and time.monotonic() < deadline and not (out / "backup").exists():
            time.sleep(0.01)
        assert lock.read_text().strip() == str(first.pid)
        status, out_text, err = run_cli(capsys, "train", *arguments)
        assert status == 2 and out_text == ""
        assert err == (f"kerasrnn train: error: {out} is in use by another training (PID {first.pid}, lock file "
                       f"{lock}); wait for it to finish, or give another --out folder.\n")
        assert first.poll() is None  # the refusal touched nothing of the running one
    finally:
        first.kill()
        first.communicate(timeout=60)
    # The dead process's lock file is still there; flock died with it, so the same command takes over.
    assert lock.read_text().strip() == str(first.pid)
    status, _, err = run_cli(capsys, "train", *arguments[:-1], "1", "--overwrite")
    assert status == 0, err
    assert not lock.exists() and (out / "model.keras").is_file()


def test_the_lock_is_taken_over_from_a_dead_process_and_released_after_a_refusal(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead.kill()
    dead.wait()
    (out / "train.lock").write_text(f"{dead.pid}\n")  # as a killed training leaves it
    (out / "model.keras").write_text("a finished run")
    status, _, err = run_cli(capsys, "train", "char_lm", "--data", SHAKESPEARE, "--out", out, *TINY)
    assert status == 2 and "already holds a finished run" in err  # the stale lock did not stop it
    assert not (out / "train.lock").exists()
    missing = tmp_path / "new"
    status, _, err = run_cli(capsys, "train", "char_lm", "--data", tmp_path / "no-such-data", "--out", missing, *TINY)
    assert status == 2 and not missing.exists()  # a refused run leaves no folder (nor lock) behind


@pytest.fixture
def small_disk(tmp_path):
    """A real 2 MiB tmpfs, or a skip where this process may not mount one."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or mounted.returncode}): no real full disk")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder, leave):
    """Fill the filesystem of `folder` until `leave` bytes are free (0: really full); return the filler file."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as file:  # unbuffered: close() has nothing left to fail on
        try:
            while True:
                file.write(b"\0" * 4096)
        except OSError as error:
            assert error.errno == errno.ENOSPC
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def snapshot(folder):
    return {path: path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_a_full_disk_is_one_line_keeps_the_files_and_the_rerun_resumes_once_space_is_freed(small_disk, capsys):
    out = small_disk / "run"
    arguments = ["train", "char_lm", "--data", SHAKESPEARE, "--out", out, *TINY, "--units", "64", "--epochs", "3"]
    # An interrupted run: one epoch checkpointed.
    with pytest.raises(KeyboardInterrupt):
        train("char_lm", SHAKESPEARE, str(out), epochs=3, callbacks=[InterruptAfterEpoch(1)],
              **{**TINY_OPTIONS, "builder_options": {**TINY_OPTIONS["builder_options"], "units": 64}})
    before = snapshot(out)
    filler = fill(small_disk, leave=0)
    status, _, err = run_cli(capsys, *arguments)  # the disk is full: even run.json cannot be rewritten
    assert status == 2 and err.count("\n") == 1, err
    assert re.fullmatch(rf"kerasrnn train: error: no space left on the device writing {re.escape(str(out))}/\S+; "
                        r"the files from before are intact: free some space and run the same command again\n", err)
    assert snapshot(out) == before
    filler.unlink()
    filler = fill(small_disk, leave=96 * 1024)  # room for the JSON and CSV files, not for a checkpoint
    status, _, err = run_cli(capsys, *arguments)
    assert status == 2 and err.count("\n") == 1, err
    assert re.fullmatch(rf"kerasrnn train: error: no space left on the device writing "
                        rf"{re.escape(str(out / 'backup' / 'epoch-2.weights.h5'))} \(.+ needed, .+ free\); "
                        r"the files from before are intact: free some space and run the same command again\n", err)
    assert sorted(os.listdir(out / "backup")) == ["epoch-1.weights.h5", "training_metadata.json"]
    assert (out / "backup" / "epoch-1.weights.h5").read_bytes() == before[out / "backup" / "epoch-1.weights.h5"]
    filler.unlink()
    status, _, err = run_cli(capsys, *arguments)
    assert status == 0, err
    assert epoch_rows(out) == ["0", "1", "2"]
    assert len(json.loads((out / "history.json").read_text())["loss"]) == 2  # resumed after epoch 1
    assert (out / "model.keras").is_file()


def test_a_full_disk_while_model_keras_is_written_keeps_the_previous_model(small_disk):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    path = small_disk / "model.keras"
    save_model(model, path)
    good = path.read_bytes()
    filler = fill(small_disk, leave=0)
    bigger = keras.Sequential([keras.Input((256,)), keras.layers.Dense(256)])
    with pytest.raises(DiskFullError, match=r"^no space left on the device writing .*model\.keras"):
        save_model(bigger, path)
    assert path.read_bytes() == good and sorted(os.listdir(small_disk)) == ["filler", "model.keras"]
    filler.unlink()
    assert keras.saving.load_model(path).count_params() == model.count_params()


def test_kill_9_while_model_keras_is_written_keeps_the_previous_model(tmp_path):
    path = tmp_path / "model.keras"
    save_model(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), path)
    good = path.read_bytes()
    # A real process replacing it by a 64 MB model; killed while the temporary file is being written.
    writer = subprocess.Popen([sys.executable, "-c", (
        "import keras, sys\n"
        "from kerasrnn.atomic_files import save_model\n"
        "save_model(keras.Sequential([keras.Input((4096,)), keras.layers.Dense(4096)]), sys.argv[1])\n"
    ), str(path)], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    partial = tmp_path / "partial.model.keras"
    assert kill_when(writer, lambda: partial.exists() and partial.stat().st_size > 0), "the save ended first"
    assert path.read_bytes() == good
    assert keras.saving.load_model(path).count_params() == 10
