"""`kerasrnn train --out DIR`: a run folder is resumed by its own run only, replaced only with --overwrite,
and Ctrl-C leaves one line saying how to resume. Tiny trainings on the real Tiny Shakespeare (seconds each)."""

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
from kerasrnn.cli import main
from kerasrnn.training.trainer import train

# 2 batches of 16 windows of 20 characters per epoch: a second or two.
TINY = ["--max-examples", "32", "--batch-size", "16", "--seq-len", "20", "--cell", "gru", "--units", "8",
        "--num-layers", "1", "--embedding-dim", "8"]
TINY_OPTIONS = dict(
    builder_options={"cell": "gru", "units": 8, "num_layers": 1, "embedding_dim": 8},
    data_options={"seq_len": 20}, batch_size=16, max_examples=32, verbose=0,
)


def run_cli(capsys, *arguments):
    status = main([str(argument) for argument in arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def snapshot(folder):
    """Every file under `folder` with its bytes and modification time: what "untouched" compares."""
    files = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as file:
                files[os.path.relpath(path, folder)] = (file.read(), os.stat(path).st_mtime_ns)
    return files


class InterruptAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("finished") / "run"
    assert main(["train", "char_lm", "--data", SHAKESPEARE, "--out", str(out), *TINY]) == 0
    return out


@pytest.mark.parametrize("other", [[], ["--units", "16"], ["--epochs", "2"]], ids=["same", "spec", "epochs"])
def test_a_finished_run_is_refused_and_left_untouched(finished_run, capsys, other):
    before = snapshot(finished_run)
    status, out, err = run_cli(capsys, "train", "char_lm", "--data", SHAKESPEARE, "--out", finished_run, *TINY, *other)
    assert status == 2 and out == ""
    assert err.strip() == (f"kerasrnn train: error: {finished_run} already holds a finished run (model.keras); "
                           "give another --out folder, or --overwrite to replace it.")
    assert snapshot(finished_run) == before


def test_an_interrupted_run_with_other_settings_is_refused_without_touching_it(tmp_path, capsys):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train("char_lm", SHAKESPEARE, str(out), epochs=2, callbacks=[InterruptAfterFirstEpoch()], **TINY_OPTIONS)
    assert (out / "backup").is_dir() and (out / "run.json").is_file()
    before = snapshot(out)
    for other, change in [
        (["--units", "16", "--epochs", "2"], "builder_options.units: 8 there, 16 here"),
        (["--epochs", "3"], "training.epochs: 2 there, 3 here"),
        (["--epochs", "2", "--seed", "7"], "training.seed: 1337 there, 7 here"),
        (["--epochs", "2", "--stateful"], 'data_options.stateful: unset there, true here'),
    ]:
        status, _, err = run_cli(capsys, "train", "char_lm", "--data", SHAKESPEARE, "--out", out, *TINY, *other)
        assert status == 2 and len(err.strip().splitlines()) == 1, err
        assert f"{out} holds an unfinished run with other settings ({change})" in err, err
        assert "run its own command again to resume it" in err and "--overwrite" in err
    # Other data is another run too.
    copy = tmp_path / "input.txt"
    copy.write_bytes(open(SHAKESPEARE, "rb").read())
    status, _, err = run_cli(capsys, "train", "char_lm", "--data", copy, "--out", out, *TINY, "--epochs", "2")
    assert status == 2 and f'data: "{SHAKESPEARE}" there, "{copy}" here' in err, err
    assert snapshot(out) == before
    # Its own command resumes it: only the second epoch runs.
    status, out_text, err = run_cli(capsys, "train", "char_lm", "--data", SHAKESPEARE, "--out", out, *TINY,
                                    "--epochs", "2")
    assert status == 0, err
    assert len(json.loads((out / "history.json").read_text())["loss"]) == 1
    assert [row.split(",")[0] for row in (out / "epochs.csv").read_text().splitlines()[1:]] == ["0", "1"]


def test_overwrite_replaces_the_run_and_keeps_other_files(tmp_path, capsys):
    out = tmp_path / "run"
    status, _, _ = run_cli(capsys, "train", "char_lm", "--data", SHAKESPEARE, "--out", out, *TINY, "--epochs", "3",
                           "--keep-best")
    assert status == 0
    (out / "notes.txt").write_text("mine")
    (out / "logs").mkdir()
    (out / "logs" / "events").write_text("tensorboard")
    status, _, err = run_cli(capsys, "train", "char_lm", "--data", SHAKESPEARE, "--out", out, *TINY,
                             "--units", "16", "--overwrite")
    assert status == 0, err
    # Only the new run's epoch is logged (the old run had 3), with the new spec and identity.
    assert (out / "epochs.csv").read_text().splitlines()[1:][0].startswith("0,")
    assert len((out / "epochs.csv").read_text().splitlines()) == 2
    assert json.loads((out / "spec.json").read_text())["units"] == 16
    assert json.loads((out / "run.json").read_text())["builder_options"]["units"] == 16
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 1
    assert (out / "notes.txt").read_text() == "mine" and (out / "logs" / "events").read_text() == "tensorboard"
    assert sorted(os.listdir(out)) == ["epochs.csv", "history.json", "logs", "metrics.json", "model.keras",
                                       "notes.txt", "run.json", "spec.json"]


def test_overwrite_with_a_bad_option_keeps_the_old_run(finished_run, capsys):
    before = snapshot(finished_run)
    status, _, err = run_cli(capsys, "train", "char_lm", "--data", SHAKESPEARE, "--out", finished_run, *TINY,
                             "--dropout", "1.5", "--overwrite")
    assert status == 2 and "`dropout` must be a number in [0, 1)" in err
    missing = str(finished_run) + "-no-such.txt"
    status, _, err = run_cli(capsys, "train", "char_lm", "--data", missing, "--out", finished_run, *TINY, "--overwrite")
    assert status == 2 and missing in err
    assert snapshot(finished_run) == before


def test_out_naming_a_file_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    status, _, err = run_cli(capsys, "train", "char_lm", "--data", SHAKESPEARE, "--out", tmp_path / "file", *TINY)
    assert status == 2 and err.strip() == f"kerasrnn train: error: --out: {tmp_path / 'file'} is a file; give a folder for the run's files."


# A shell or CI runner that started the tests in the background may have set SIGINT to "ignore",
# which a new Python keeps: the child puts Python's Ctrl-C handler back itself before running the
# CLI. Not with preexec_fn: it makes subprocess fork instead of spawn, and forking this process
# while gRPC threads of earlier in-process serving tests run aborts about 1 child in 14 before
# exec ("corrupted size vs. prev_size", exit -6; seen in CI, reproduced 105 in 1,436 forks).
CTRL_C_RESTORED = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
                   "runpy.run_module('kerasrnn.cli', run_name='__main__')")


def start_training(arguments):
    return subprocess.Popen(
        [sys.executable, "-c", CTRL_C_RESTORED, "train", *arguments], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


def test_ctrl_c_in_kerasrnn_train_is_one_line_and_the_same_command_resumes(tmp_path):
    out = tmp_path / "run"
    arguments = ["char_lm", "--data", SHAKESPEARE, "--out", str(out), *TINY, "--epochs", "4"]
    checkpoint = out / "backup" / "training_metadata.json"
    training = start_training(arguments)
    try:
        deadline = time.monotonic() + 120
        while not checkpoint.exists() and training.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        training.send_signal(signal.SIGINT)  # as Ctrl-C does, in the second epoch
        _, err = training.communicate(timeout=60)
    finally:
        training.kill()
    assert training.returncode == 130, err[-3000:]
    match = re.fullmatch(
        rf"kerasrnn train: interrupted after epoch (\d); run the same command to resume \(checkpoint in "
        rf"{re.escape(str(out / 'backup'))}\)\n", err)
    assert match, err[-3000:]
    done = int(match.group(1))
    assert 1 <= done < 4 and json.loads(checkpoint.read_text())["epoch"] == done
    resumed = subprocess.run([sys.executable, "-m", "kerasrnn.cli", "train", *arguments], capture_output=True,
                             text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert len(json.loads((out / "history.json").read_text())["loss"]) == 4 - done  # only the epochs left ran
    assert [row.split(",")[0] for row in (out / "epochs.csv").read_text().splitlines()[1:]] == ["0", "1", "2", "3"]
    assert json.loads(resumed.stdout.strip().splitlines()[-1])["epochs"] == 4


def test_ctrl_c_before_the_first_checkpoint_and_in_other_verbs_is_one_line(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("kerasrnn.training.trainer.train", interrupted)
    status, _, err = run_cli(capsys, "train", "char_lm", "--data", SHAKESPEARE, "--out", tmp_path / "run", *TINY)
    assert status == 130
    assert err == "kerasrnn train: interrupted before the first epoch ended; run the same command to start again\n"
    from tools.zoo.__main__ import main as zoo_tools

    monkeypatch.setattr("tools.zoo.recipes.train_recipe", interrupted)
    assert zoo_tools(["train", "no-such-recipe"]) == 130
    assert capsys.readouterr().err == "python -m tools.zoo train: interrupted; run the same command to resume\n"
    status, _, err = run_cli(capsys, "zoo", "train", "no-such-recipe", "--epochs", "3")
    assert status == 2 and "python -m tools.zoo train" in err  # the maintainer command's new home
    monkeypatch.setattr("kerasrnn.training.evaluation.evaluate_on_data", interrupted)
    status, _, err = run_cli(capsys, "evaluate", "charlm-shakespeare-rnn", "--data", SHAKESPEARE)
    assert status == 130 and err == "kerasrnn evaluate: interrupted\n"
