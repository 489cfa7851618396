"""Averaging recipes: built from published members, scored on validation, published with test scores."""

import json
import os

import pytest

from kerasrnn.shared_data import SHARED_DATA, EWT_DIR
from kerasrnn.training.trainer import train
from kerasrnn.zoo.download import sha256_of
from kerasrnn.zoo.index import read_index, write_index
from tools.zoo import publishing
from tools.zoo.ensembles import build_average, read_average

# 200 real training sentences keep the members small and quick; the recipe
# prepares its validation data with the same option, so the vocabularies agree.
DATA_OPTIONS = {"max_examples": 200, "use_characters": True}
PLAN = {
    "task": "pos_tagger", "dataset": "UD English EWT", "split": "train (200 sentences) / dev / test",
    "data": "ud-english-ewt", "eval_data": "ud-english-ewt/en_ewt-ud-test.conllu",
    "average_of": ["pos-test-bilstm", "pos-test-bigru"], "data_options": DATA_OPTIONS,
}


@pytest.fixture(scope="module")
def zoo_dir(tmp_path_factory):
    """Two taggers (LSTM, GRU) trained on the same real sentences, published into a zoo folder."""
    directory = tmp_path_factory.mktemp("zoo")
    entries = []
    for name, cell in (("pos-test-bilstm", "lstm"), ("pos-test-bigru", "gru")):
        run = tmp_path_factory.mktemp(name)
        options = {"cell": cell, "units": 16, "embedding_dim": 16, "char_units": 8, "learning_rate": 0.01}
        train("pos_tagger", EWT_DIR, str(run), options, epochs=3, max_examples=200,
              data_options={"use_characters": True}, verbose=0)
        os.replace(run / "model.keras", directory / f"{name}.keras")
        entries.append({
            "name": name, "task": "pos_tagger", "cell": cell, "spec": json.loads((run / "spec.json").read_text()),
            "metrics": {}, "file": f"{name}.keras", "sha256": sha256_of(directory / f"{name}.keras"),
            "size_bytes": os.path.getsize(directory / f"{name}.keras"), "training_seconds": 10.0 if cell == "lstm" else 20.0,
        })
    write_index(entries, str(directory / "index.json"))
    return directory


def test_an_averaging_recipe_is_scored_on_validation_then_published_with_test_scores(zoo_dir, tmp_path, monkeypatch):
    run_dir = str(tmp_path / "runs" / "pos-test-average")
    description = build_average("pos-test-average", PLAN, SHARED_DATA, run_dir, str(zoo_dir))
    assert description == read_average(run_dir)
    assert description["cell"] == "lstm+gru" and description["average_of"] == PLAN["average_of"]
    members = description["member_validation"]
    assert sorted(members) == sorted(PLAN["average_of"])
    # EWT dev: 2,001 sentences; taggers of 200 sentences and 3 epochs are far above always-NOUN (0.17), but weak.
    for scores in [description["validation"], *members.values()]:
        assert 0.4 < scores["val_accuracy"] < 0.95, scores
    monkeypatch.setattr(publishing, "recipe", lambda name: PLAN)
    entry = publishing.publish("pos-test-average", SHARED_DATA, runs_dir=str(tmp_path / "runs"), zoo_dir=str(zoo_dir),
                            update_presets=False)
    assert entry["cell"] == "lstm+gru" and entry["training_seconds"] == 30.0
    assert entry["spec"]["average_of"]["pos-test-bigru"]["cell"] == "gru"
    assert entry["metrics"]["tokens"] == 25094 and 0.4 < entry["metrics"]["accuracy"] < 0.95
    assert entry["validation"] == description["validation"]
    # No file of its own: the entry names its members, whose published files make it at load.
    assert entry["average_of"] == PLAN["average_of"] and not {"file", "sha256", "size_bytes"} & set(entry)
    assert not (zoo_dir / "pos-test-average.keras").exists()
    assert [e for e in read_index(str(zoo_dir / "index.json")) if e["name"] == "pos-test-average"] == [entry]


def test_averaging_recipes_name_what_is_missing_or_mismatched(zoo_dir, tmp_path):
    with pytest.raises(ValueError, match="averages pos-test-birnn, not published"):
        build_average("x", {**PLAN, "average_of": ["pos-test-bilstm", "pos-test-birnn"]}, SHARED_DATA,
                      str(tmp_path / "x"), str(zoo_dir))
    with pytest.raises(ValueError, match="two or more model names"):
        build_average("x", {**PLAN, "average_of": ["pos-test-bilstm"]}, SHARED_DATA, str(tmp_path / "x"), str(zoo_dir))
    with pytest.raises(ValueError, match="another task"):
        build_average("x", {**PLAN, "task": "sentiment"}, SHARED_DATA, str(tmp_path / "x"), str(zoo_dir))
    other_data = {**PLAN, "data_options": {"max_examples": 150, "use_characters": True}}
    with pytest.raises(ValueError, match="pos-test-bilstm, pos-test-bigru did not read 'ud-english-ewt'"):
        build_average("x", other_data, SHARED_DATA, str(tmp_path / "x"), str(zoo_dir))
    assert not os.path.exists(tmp_path / "x")
    with pytest.raises(FileNotFoundError, match="ensemble.json not found"):
        read_average(str(tmp_path / "x"))
