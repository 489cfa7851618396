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


@pytest.mark.slow
def test_a_partial_run_merges_its_section_into_the_earlier_results(tmp_path):
    import json

    from benchmarks.run import main

    assert main(["--tiny", "--only", "generation", "--out", str(tmp_path)]) == 0
    assert main(["--tiny", "--only", "accuracy", "--out", str(tmp_path)]) == 0
    results = json.load(open(os.path.join(tmp_path, "results.json"), encoding="utf-8"))
    assert set(results["section_runs"]) == {"generation", "accuracy"} and results["generation"]
    rows = {row["variant"]: row for row in results["accuracy"]}
    assert len(rows) == 2 and all(row["test_reviews"] == 300 and 0 <= row["test_accuracy"] <= 1 for row in rows.values())
    text = open(os.path.join(tmp_path, "RESULTS.md"), encoding="utf-8").read()
    assert "IMDB on the full data: seconds per epoch and test accuracy" in text
    assert "exported `generate` vs model.predict per character" in text


@pytest.mark.slow
def test_every_section_of_the_full_mode_runs_and_is_reported(tmp_path):
    import json

    from benchmarks.run import MODES, main

    sections = MODES["full"]["sections"]
    arguments = ["--tiny", "--out", str(tmp_path)]
    for section in sections:
        arguments += ["--only", section]
    assert main(arguments) == 0
    results = json.load(open(os.path.join(tmp_path, "results.json"), encoding="utf-8"))
    assert set(results["section_runs"]) == set(sections)
    assert {(row["task"], row["framework"]) for row in results["epochs"]} == {
        (task, framework) for task in ("char_lm", "pos") for framework in ("kerasrnn", "PyTorch")}
    assert len(results["memory"]) == 6 and all(
        row["peak_rss_bytes"] >= row["rss_before_training_bytes"] > 0 for row in results["memory"])
    text = open(os.path.join(tmp_path, "RESULTS.md"), encoding="utf-8").read()
    for heading in ("## Training throughput", "## Seconds per epoch on the full training data (timed)",
                    "## Memory: peak RSS of training each reference model", "## Serving", "## Targets"):
        assert heading in text


@pytest.mark.slow
def test_a_task_run_replaces_only_that_tasks_rows(tmp_path):
    import json

    from benchmarks.run import main

    assert main(["--tiny", "--only", "training", "--out", str(tmp_path)]) == 0
    before = json.load(open(os.path.join(tmp_path, "results.json"), encoding="utf-8"))
    assert main(["--tiny", "--only", "training", "--task", "pos", "--out", str(tmp_path)]) == 0
    after = json.load(open(os.path.join(tmp_path, "results.json"), encoding="utf-8"))
    assert {row["task"] for row in after["training"]} == {"char_lm", "sentiment", "pos"}
    unchanged = [row for row in before["training"] if row["task"] != "pos"]
    assert [row for row in after["training"] if row["task"] != "pos"] == unchanged
    assert [row["seconds_per_pass"] for row in after["training"] if row["task"] == "pos"] != [
        row["seconds_per_pass"] for row in before["training"] if row["task"] == "pos"]
    assert set(after["section_runs"]) == {"training", "training (pos)"}
    # Each row's % of peak divides by the peak its own run measured.
    assert all(row["peak_gflops"] == before["peak"]["peak"] for row in after["training"] if row["task"] != "pos")
    assert all(row["peak_gflops"] == after["peak"]["peak"] for row in after["training"] if row["task"] == "pos")
    with pytest.raises(SystemExit):
        main(["--tiny", "--task", "pos", "--out", str(tmp_path)])
