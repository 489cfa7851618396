"""What the `kerasrnn` command shows: defaults in --help, and a quiet exit when its reader goes away."""

import os
import subprocess
import sys

import pytest

from kerasrnn.cli import BROKEN_PIPE_STATUS, main

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def help_text(capsys, *verb):
    with pytest.raises(SystemExit) as exit_status:
        main([*verb, "--help"])
    assert exit_status.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines at the terminal's width


def test_train_help_shows_the_defaults(capsys):
    text = help_text(capsys, "train")
    assert "--epochs N passes over the training data (default: 1)" in text
    assert "--seed SEED seeds the weights, dropout and shuffling (default: 1337)" in text
    assert "--batch-size BATCH_SIZE default: the task's (char_lm 64, pos_tagger 32, sentiment 128)" in text
    assert "in (0, 1) (default: 0.5)" in text and "to come up (default: 120.0)" in text
    assert "--overwrite replace the run --out holds" in text
    # An option that is off unless given, or whose default is the builder's, shows no "(default: ...)".
    assert "(default: None)" not in text and "(default: False)" not in text


def test_every_option_all_tasks_take_has_its_train_flag(capsys):
    # `kerasrnn train` passes the options every task takes by name (task_head.SHARED_OPTIONS, derived
    # from the backbone's and the optimizer's signatures): a new one needs its flag here.
    from kerasrnn.tasks.task_head import SHARED_OPTIONS

    text = help_text(capsys, "train")
    model_options = text[text.index("model options (defaults: the builder's)"):text.index("task-specific options")]
    for name in SHARED_OPTIONS:
        assert f"--{name.replace('_', '-')}" in model_options, name


@pytest.mark.parametrize(
    "verb, shown",
    [
        (["generate"], ["--length LENGTH characters to sample after the prompt (default: 300)",
                        "--temperature TEMPERATURE 0 = greedy (default: 1.0)"]),
        (["serve"], ["--max-batch-size MAX_BATCH_SIZE (default: 32)"]),
    ],
)
def test_every_verbs_help_shows_its_defaults(capsys, verb, shown):
    text = help_text(capsys, *verb)
    for line in shown:
        assert line in text, text


def run_into_a_closed_pipe(*arguments):
    """Run `kerasrnn ARGUMENTS` with stdout a pipe whose reader has already gone (as `| head` leaves it)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "kerasrnn.cli", *arguments], stdout=write,
                              stderr=subprocess.PIPE, text=True, env=ENV, timeout=300)
    finally:
        os.close(write)


@pytest.mark.parametrize(
    "arguments",
    [
        ["zoo", "info", "pos-ewt-bilstm"],
        ["generate", "charlm-shakespeare-rnn", "--prompt", "ROMEO:", "--length", "20", "--seed", "1"],
    ],
    ids=["zoo-info", "generate"],
)
def test_a_reader_that_goes_away_ends_the_command_quietly(arguments):
    result = run_into_a_closed_pipe(*arguments)
    assert result.returncode == BROKEN_PIPE_STATUS == 141
    assert result.stderr == ""  # no traceback, no "Exception ignored" at exit


def test_head_reads_the_first_line_of_a_pipeline():
    pipeline = subprocess.run(
        ["bash", "-c", 'set -o pipefail; "$0" -m kerasrnn.cli zoo info pos-ewt-bilstm | head -1', sys.executable],
        capture_output=True, text=True, env=ENV, timeout=120,
    )
    # The whole answer fits the pipe, so kerasrnn usually finishes first (0); if head closed first, 141.
    assert pipeline.returncode in (0, BROKEN_PIPE_STATUS), pipeline.stderr
    assert pipeline.stdout == "{\n" and pipeline.stderr == ""
