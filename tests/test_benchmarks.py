"""The benchmark harness runs end to end on tiny settings (no timing assertions)."""

import os

import pytest

pytest.importorskip("torch")
pytest.importorskip("flask")
pytest.importorskip("psutil")


@pytest.mark.slow
def test_tiny_harness_writes_a_report(tmp_path):
    from benchmarks.run import main

    assert main(["--tiny", "--only", "generation", "--out", str(tmp_path)]) == 0
    text = open(os.path.join(tmp_path, "RESULTS.md"), encoding="utf-8").read()
    assert "exported `generate` vs model.predict per character" in text
    assert "median" in text
