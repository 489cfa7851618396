"""The README's Python example runs as written (from the repository root)."""

import os
import re

ROOT = os.path.join(os.path.dirname(__file__), "..")


def test_the_model_fit_example_runs(tmp_path, monkeypatch):
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    block = next(code for code in re.findall(r"```python\n(.*?)```", readme, re.DOTALL) if "model.fit" in code)
    data = os.path.abspath(os.path.join(ROOT, "..", "shared", "data"))
    monkeypatch.chdir(tmp_path)  # the example saves a file; keep it out of the repository
    namespace = {}
    exec(block.replace("../shared/data", data), namespace)
    assert os.path.isfile(tmp_path / "sentiment.keras")
    assert namespace["model"].output_shape == (None, 2)
