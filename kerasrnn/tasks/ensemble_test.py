"""`average_of`: the mean of the members' probabilities, saved and loaded as a task model; clear refusals."""

import keras
import numpy as np
import pytest

from kerasrnn.data.conllu import read_conllu
from kerasrnn.shared_data import EWT_DIR, EWT_TEST
from kerasrnn.tasks.ensemble import average_of
from kerasrnn.tasks.pos_tagger import PosTagger, build_pos_tagger
from kerasrnn.tasks.pos_tagger.data import prepare


@pytest.fixture(scope="module")
def data():
    return prepare(EWT_DIR, max_examples=300, use_characters=True)


def tagger(data, cell, preprocessor=None):
    keras.utils.set_random_seed({"lstm": 1, "gru": 2, "simple_rnn": 3}[cell])
    network = build_pos_tagger(**data.spec_arguments, cell=cell, units=8, embedding_dim=8, char_units=8)
    return PosTagger(network, preprocessor or data.preprocessor)


@pytest.fixture(scope="module")
def sentences():
    return [words for words, _ in read_conllu(EWT_TEST)[:40]]


def test_the_average_is_the_mean_of_the_members_probabilities(data, sentences):
    members = [tagger(data, cell) for cell in ("lstm", "gru", "simple_rnn")]
    average = average_of(members)
    expected = np.mean([member.predict(sentences, verbose=0) for member in members], axis=0)
    got = average.predict(sentences, verbose=0)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    # Members that differ make an average unlike any one of them.
    assert min(np.abs(got - member.predict(sentences, verbose=0)).max() for member in members) > 1e-3
    assert average.count_params() == sum(member.count_params() for member in members)


def test_the_average_saves_and_loads_in_safe_mode_as_its_class(data, sentences, tmp_path):
    average = average_of([tagger(data, "lstm"), tagger(data, "gru")], name="pos_average")
    path = str(tmp_path / "average.keras")
    average.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, PosTagger) and loaded.name == "pos_average"
    np.testing.assert_allclose(loaded.predict(sentences, verbose=0), average.predict(sentences, verbose=0), atol=1e-6)
    words, tags = zip(*read_conllu(EWT_TEST)[:40])
    assert loaded.evaluate(list(words), list(tags), return_dict=True, verbose=0)["accuracy"] == pytest.approx(
        average.evaluate(list(words), list(tags), return_dict=True, verbose=0)["accuracy"], abs=1e-6)


def test_members_must_share_class_and_preprocessor_and_end_in_probabilities(data):
    from kerasrnn.tasks.char_lm import CharLanguageModel, CharLanguageModelPreprocessor, build_char_lm
    from kerasrnn.tasks.sentiment import SentimentClassifier, SentimentPreprocessor, build_sentiment_classifier

    lstm = tagger(data, "lstm")
    with pytest.raises(ValueError, match="at least two"):
        average_of([lstm])
    with pytest.raises(ValueError, match="must be task models .* Received: Functional"):
        average_of([lstm.network, lstm.network])
    words = ["", "[UNK]", "good", "bad"]
    sentiment = SentimentClassifier(build_sentiment_classifier(4, units=4, embedding_dim=4), SentimentPreprocessor(words))
    with pytest.raises(ValueError, match=r"one class: models\[0\] is a PosTagger, models\[1\] a SentimentClassifier"):
        average_of([lstm, sentiment])
    other = prepare(EWT_DIR, max_examples=100, use_characters=True).preprocessor
    with pytest.raises(ValueError, match=r"`models\[1\]` has a different preprocessor"):
        average_of([lstm, tagger(data, "gru", preprocessor=other)])
    characters = CharLanguageModelPreprocessor(list("abc"))
    language_models = [CharLanguageModel(build_char_lm(len(characters.labels), units=4, embedding_dim=4), characters)
                       for _ in range(2)]
    with pytest.raises(ValueError, match=r"`models\[0\]` does not end in probabilities"):
        average_of(language_models)


def test_the_average_exports_for_serving_with_the_members_mean(data, sentences, tmp_path):
    import tensorflow as tf

    from kerasrnn.export import export_for_serving

    members = [tagger(data, "lstm"), tagger(data, "gru")]
    exported = tf.saved_model.load(export_for_serving(average_of(members), str(tmp_path)).path)
    words = [sentences[0]]
    scores = exported.signatures["serving_default"](tokens=tf.constant(words))["scores"].numpy()
    np.testing.assert_allclose(scores, np.mean([member.predict(words, verbose=0) for member in members], axis=0),
                               atol=1e-6)
