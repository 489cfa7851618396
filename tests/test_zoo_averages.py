"""A zoo model that averages others has no file: its entry names its members, assembled at load from theirs."""

import json
import os

import numpy as np
import pytest

from conftest import EWT_DIR
from kerasrnn import zoo
from kerasrnn.cli import main
from kerasrnn.tasks.pos_tagger import PosTagger
from kerasrnn.tasks.sentiment import SentimentClassifier
from kerasrnn.zoo.download import DEFAULT_ZOO_DIR, fetch
from kerasrnn.zoo.index import find_entry, parse_index
from kerasrnn.zoo.presets import model_file, preset_members

AVERAGE = "pos-ewt-average-bilstm-bigru"
MEMBERS = ["pos-ewt-bilstm", "pos-ewt-bigru"]


def real_test_sentences(count):
    """The first `count` sentences of EWT's test split, as lists of words."""
    sentences, words = [], []
    with open(os.path.join(EWT_DIR, "en_ewt-ud-test.conllu"), encoding="utf-8") as file:
        for line in file:
            line = line.rstrip("\n")
            if not line:
                if words:
                    sentences.append(words)
                    words = []
                if len(sentences) == count:
                    break
            elif not line.startswith("#"):
                columns = line.split("\t")
                if columns[0].isdigit():  # not a multi-word token's range, not an empty node
                    words.append(columns[1])
    return sentences


def test_the_published_average_is_its_members_mean_and_has_no_file():
    entry = find_entry(AVERAGE)
    assert entry["average_of"] == MEMBERS and "file" not in entry
    assert not os.path.exists(os.path.join(DEFAULT_ZOO_DIR, f"{AVERAGE}.keras"))
    average = PosTagger.from_preset(AVERAGE)
    members = [zoo.load(member) for member in MEMBERS]
    sentences = [" ".join(words) for words in real_test_sentences(16)]
    expected = np.mean([member.predict(sentences, verbose=0) for member in members], axis=0)
    predicted = average.predict(sentences, verbose=0)
    np.testing.assert_allclose(predicted, expected, atol=1e-6)
    # A tagger of real sentences, not noise: most of the 16 sentences' tags agree with a member's.
    assert (predicted.argmax(-1) == members[0].predict(sentences, verbose=0).argmax(-1)).mean() > 0.9
    assert average.name == AVERAGE.replace("-", "_")


def test_an_average_is_refused_where_a_single_file_is_expected():
    with pytest.raises(ValueError, match=r"'pos-ewt-average-bilstm-bigru' has no file of its own: it averages "
                                         r"pos-ewt-bilstm, pos-ewt-bigru"):
        model_file(AVERAGE)
    with pytest.raises(ValueError, match="has no file of its own"):
        fetch(find_entry(AVERAGE))
    with pytest.raises(ValueError, match="is a PosTagger, not a SentimentClassifier"):
        SentimentClassifier.from_preset(AVERAGE)
    assert preset_members(AVERAGE) == MEMBERS
    assert preset_members("pos-ewt-bigru") is None
    assert preset_members(os.path.join(DEFAULT_ZOO_DIR, "pos-ewt-bigru.keras")) is None


def test_downloading_an_average_downloads_its_members(capsys):
    paths = zoo.download(AVERAGE)
    assert [os.path.basename(path) for path in paths] == [f"{member}.keras" for member in MEMBERS]
    assert main(["zoo", "download", AVERAGE]) == 0
    assert capsys.readouterr().out.splitlines() == paths


def entry(name, **fields):
    base = {"name": name, "task": "pos_tagger", "cell": "lstm", "spec": {}, "metrics": {}}
    if "average_of" not in fields:
        base.update({"file": f"{name}.keras", "sha256": "0" * 64, "size_bytes": 1})
    return {**base, **fields}


@pytest.mark.parametrize(
    "entries, message",
    [
        ([entry("a"), entry("m", average_of=["a"])], "`average_of` must list two or more model names"),
        ([entry("a"), entry("m", average_of="a,b")], "`average_of` must list two or more model names"),
        ([entry("a"), entry("m", average_of=["a", "a"])], "names a model twice"),
        ([entry("a"), entry("m", average_of=["a", "b"])], "averages 'b', which this index does not list"),
        ([entry("a"), entry("b"), entry("n", average_of=["a", "b"]), entry("m", average_of=["a", "n"])],
         "averages 'n', itself an average"),
        ([entry("a"), entry("b", task="sentiment"), entry("m", average_of=["a", "b"])],
         "of task 'sentiment'"),
        ([{key: value for key, value in entry("a").items() if key != "sha256"}], "model #0 lacks sha256"),
    ],
)
def test_a_malformed_average_entry_is_named(entries, message):
    with pytest.raises(ValueError, match=message):
        parse_index(json.dumps({"models": entries}), "index.json")


def test_a_well_formed_average_entry_parses():
    entries = [entry("a"), entry("b", cell="gru"), entry("m", average_of=["a", "b"])]
    assert parse_index(json.dumps({"models": entries}), "index.json") == entries
