"""PosTagger: save/load as its class, config round trip, token lists in, metric equal to the CLI's."""

import json

import keras
import numpy as np
import pytest

from kerasrnn.cli import main
from kerasrnn.data.conllu import read_conllu
from kerasrnn.shared_data import EWT_DIR, EWT_TEST
from kerasrnn.tasks.pos_tagger import PosTagger, build_pos_tagger
from kerasrnn.tasks.pos_tagger.data import prepare


def as_json(config):
    return json.loads(json.dumps(config))  # JSON has lists where configs have tuples


@pytest.fixture(scope="module")
def trained():
    data = prepare(EWT_DIR, max_examples=800, use_characters=True)
    network = build_pos_tagger(**data.spec_arguments, units=32, embedding_dim=32, learning_rate=5e-3)
    model = PosTagger(network, data.preprocessor)
    keras.utils.set_random_seed(0)
    sentences = read_conllu(f"{EWT_DIR}/en_ewt-ud-train.conllu")[:800]
    model.fit([words for words, _ in sentences], [tags for _, tags in sentences], epochs=3, verbose=0)
    return model


def test_raw_token_lists_train_and_evaluate_over_all_tokens(trained):
    sentences = read_conllu(EWT_TEST)[:400]
    words, tags = [w for w, _ in sentences], [t for _, t in sentences]
    metrics = trained.evaluate(words, tags, return_dict=True, verbose=0)
    scores = trained.predict(words, verbose=0)
    names = np.array(trained.preprocessor.tags)
    correct = sum(int(np.sum(names[scores[i, : len(w)].argmax(-1)] == np.array(t))) for i, (w, t) in enumerate(zip(words, tags)))
    assert metrics["accuracy"] == pytest.approx(correct / sum(map(len, tags)), abs=1e-6)
    # Always answering the most frequent tag (NOUN) scores ~0.17; 800 sentences for 3 epochs reach ~0.75.
    assert metrics["accuracy"] > 0.6, metrics


def test_whitespace_text_and_padded_rows_give_the_same_tags(trained):
    a = trained.predict(["The dog barks .", "I saw her"], verbose=0)
    b = trained.predict([["The", "dog", "barks", "."], ["I", "saw", "her", ""]], verbose=0)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1, :3], b[1, :3], atol=1e-6)
    assert [word for word, _ in trained.predict_text("The dog barks .")] == ["The", "dog", "barks", "."]


def test_saved_file_loads_back_as_the_class_with_identical_outputs(trained, tmp_path):
    trained.save(tmp_path / "tagger.keras")
    loaded = keras.saving.load_model(tmp_path / "tagger.keras", safe_mode=True)
    assert type(loaded) is PosTagger and loaded.preprocessor.characters == trained.preprocessor.characters
    rows = ["The quick brown fox jumps .", "Unseenword here"]
    np.testing.assert_array_equal(loaded.predict(rows, verbose=0), trained.predict(rows, verbose=0))


def test_config_round_trips(trained):
    config = trained.get_config()
    assert as_json(PosTagger.from_config(as_json(config)).get_config()) == as_json(config)


def test_cli_evaluate_reports_model_evaluate(trained, tmp_path, capsys):
    trained.save(tmp_path / "tagger.keras")
    assert main(["evaluate", str(tmp_path / "tagger.keras"), "--data", EWT_TEST]) == 0
    reported = json.loads(capsys.readouterr().out)
    sentences = read_conllu(EWT_TEST)
    expected = trained.evaluate([w for w, _ in sentences], [t for _, t in sentences], return_dict=True, verbose=0)
    assert reported["tokens"] == 25094 and reported["sentences"] == 2077
    assert reported["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-6)


def test_unknown_tags_and_ragged_mismatches_are_clear_errors(trained):
    with pytest.raises(ValueError, match="Unknown tag 'NOUNS'"):
        trained.evaluate([["dogs"]], [["NOUNS"]], verbose=0)
    with pytest.raises(ValueError, match="one tag per word"):
        trained.evaluate([["the", "dogs"]], [["DET"]], verbose=0)


def test_a_tagger_trained_on_xpos_is_scored_on_xpos_and_remembers_it_after_saving(tmp_path):
    # `kerasrnn evaluate` used to read UPOS gold tags whatever the model had learned.
    from kerasrnn.tasks.pos_tagger.preprocessor import PosTaggerPreprocessor
    from kerasrnn.training.evaluation import evaluate_on_data

    data = prepare(EWT_DIR, max_examples=800, tag_column="xpos")
    assert data.preprocessor.tag_column == "xpos" and "NN" in data.preprocessor.tags
    keras.utils.set_random_seed(0)
    model = PosTagger(build_pos_tagger(**data.spec_arguments, units=32, embedding_dim=32, learning_rate=5e-3),
                      data.preprocessor)
    model.fit(data.train, epochs=4, verbose=0)
    model.save(tmp_path / "xpos.keras")
    loaded = keras.saving.load_model(tmp_path / "xpos.keras", safe_mode=True)
    assert loaded.evaluation_data_options()["tag_column"] == "xpos"
    metrics = evaluate_on_data(loaded, EWT_TEST)
    # Read as UPOS, no gold tag would be one of the model's 50 Penn Treebank tags: accuracy near 0.
    # Always answering NN, the most frequent XPOS tag, scores about 0.13.
    assert metrics["tokens"] == 25094 and metrics["accuracy"] > 0.4, metrics
    # A tagger saved before the column was recorded learned UPOS.
    old_config = {key: value for key, value in data.preprocessor.get_config().items() if key != "tag_column"}
    assert PosTaggerPreprocessor.from_config(old_config).tag_column == "upos"
    with pytest.raises(ValueError, match="`tag_column` must be one of upos, xpos. Received: tag_column='deprel'"):
        PosTaggerPreprocessor(["", "[UNK]"], ["NN"], tag_column="deprel")
