"""`python -m tools.zoo`: its help, the index check, and the package's verbs that point at it."""

import subprocess
import sys

import pytest

from kerasrnn.zoo.download import DEFAULT_ZOO_DIR
from tools.zoo.__main__ import build_parser, main


def test_the_maintainer_commands_help_shows_the_shared_data_default(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "--shared-data SHARED_DATA folder of the real data sets (default: ../shared/data)" in shown


def test_the_index_check_runs_as_a_module_from_the_clone():
    checked = subprocess.run([sys.executable, "-m", "tools.zoo", "index", "--check"], capture_output=True, text=True,
                             cwd=f"{DEFAULT_ZOO_DIR}/..", timeout=300)
    assert checked.returncode == 0, checked.stderr[-2000:]


def test_a_drifted_index_fails_the_check(tmp_path, monkeypatch, capsys):
    import tools.zoo.repository as repository

    (tmp_path / "index.json").write_text('{"models": []}\n')
    monkeypatch.setattr(repository, "MODELS_DIR", str(tmp_path))
    assert main(["index", "--check"]) == 1
    assert "is not what the presets generate; run `python -m tools.zoo index`" in capsys.readouterr().err
    assert main(["index"]) == 0  # writes the generated index into the (patched) models/ folder
    assert main(["index", "--check"]) == 0 and (tmp_path / "index.json").stat().st_size > 1000
