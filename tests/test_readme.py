"""The README's Python examples run as written, top to bottom in one namespace (from the repository root)."""

import os
import re

import keras

ROOT = os.path.join(os.path.dirname(__file__), "..")


def test_the_python_examples_run(tmp_path, monkeypatch):
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.DOTALL)
    assert len(blocks) >= 3 and "model.fit" in blocks[0] and "SentimentClassifier(" in blocks[1]
    data = os.path.abspath(os.path.join(ROOT, "..", "shared", "data"))
    monkeypatch.chdir(tmp_path)  # the examples save files; keep them out of the repository
    namespace = {}
    # Building, task models, the zoo, averaging zoo models (the diagnostics sketch needs your data).
    for block in blocks[:4]:
        exec(block.replace("../shared/data", data), namespace)
    assert namespace["model"].output_shape == (None, 2)
    loaded = keras.saving.load_model(tmp_path / "sentiment.keras", safe_mode=True)
    assert type(loaded).__name__ == "SentimentClassifier"
    assert type(keras.saving.load_model(tmp_path / "tagger.keras", safe_mode=True)).__name__ == "PosTagger"
    assert 0.0 <= namespace["classifier"].evaluate(["A fine film."], [1], return_dict=True, verbose=0)["accuracy"] <= 1
