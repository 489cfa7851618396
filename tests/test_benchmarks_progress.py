"""`python -m benchmarks.run` says what it is doing as it goes, how long it runs, and what it needs (no PyTorch run)."""

import importlib.util
import re
import time

import pytest

from benchmarks.run import Progress, main

HAS_TORCH = importlib.util.find_spec("torch") is not None


def test_each_stage_says_when_it_starts_and_how_long_it_took(capsys):
    progress = Progress(time.time() - 61)
    with progress.stage("generation", "exported `generate` vs model.predict per character"):
        pass
    with pytest.raises(RuntimeError):
        with progress.stage("serving", "kerasrnn serve vs naive Flask"):
            raise RuntimeError("a server did not start")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "[benchmarks 1:01] generation: exported `generate` vs model.predict per character"
    assert re.fullmatch(r"\[benchmarks 1:0\d\] generation: done in 0 s", lines[1]), lines[1]
    assert lines[3].endswith("serving: failed after 0 s")


def test_help_states_how_long_each_mode_runs(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "`--quick` (the default): about" in text and "an ESTIMATE" in text
    assert "`--full`: 46 min 27 s measured" in text


@pytest.mark.skipif(HAS_TORCH, reason="checks the refusal when PyTorch is missing")
def test_sections_that_need_pytorch_are_refused_at_the_start_without_it(tmp_path, capsys):
    started = time.monotonic()
    with pytest.raises(SystemExit) as raised:
        main(["--quick", "--only", "training", "--only", "generation", "--out", str(tmp_path)])
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the training section(s) need torch, which is not installed" in err
    assert 'pip install -e ".[bench]"' in err
    assert time.monotonic() - started < 30 and not list(tmp_path.iterdir())
