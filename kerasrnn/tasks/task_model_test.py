"""A task model refuses, when it is made, a network whose vocab_size or output size does not fit its preprocessor."""

import keras
import pytest

from kerasrnn.tasks.char_lm import CharLanguageModel, CharLanguageModelPreprocessor, build_char_lm
from kerasrnn.tasks.pos_tagger import PosTagger, PosTaggerPreprocessor, build_pos_tagger
from kerasrnn.tasks.sentiment import SentimentClassifier, SentimentPreprocessor, build_sentiment_classifier

SMALL = dict(cell="gru", units=4, embedding_dim=4)
WORDS = ["", "[UNK]", "the", "dog", "barks"]


def char_preprocessor(count):
    return CharLanguageModelPreprocessor([chr(ord("!") + k) for k in range(count)])


def test_a_char_lm_one_id_too_large_is_refused_when_made_not_in_generate():
    preprocessor = char_preprocessor(58)  # ids 0..58: vocab_size 59
    with pytest.raises(ValueError) as raised:
        CharLanguageModel(build_char_lm(vocab_size=60, num_layers=1, **SMALL), preprocessor)
    message = str(raised.value)
    assert "\n" not in message
    assert "vocab_size is 60 but the preprocessor's is 59" in message
    assert "id 0 for an unknown character" in message and "vocab_size=len(preprocessor.labels)=59" in message


def test_a_char_lm_one_id_too_small_is_refused():
    with pytest.raises(ValueError, match="vocab_size is 58 but the preprocessor's is 59"):
        CharLanguageModel(build_char_lm(vocab_size=58, num_layers=1, **SMALL), char_preprocessor(58))


def test_a_char_lm_of_len_characters_plus_one_is_made_and_generates():
    preprocessor = char_preprocessor(58)
    model = CharLanguageModel(build_char_lm(vocab_size=len(preprocessor.labels), num_layers=1, **SMALL), preprocessor)
    assert len(model.generate("!", length=3, temperature=0.0)) == 4


def test_a_saved_char_lm_with_another_vocabulary_is_refused_on_load(tmp_path):
    # The same check runs when a .keras file is loaded (from_config makes the task model).
    preprocessor = char_preprocessor(5)
    model = CharLanguageModel(build_char_lm(vocab_size=6, num_layers=1, **SMALL), preprocessor)
    config = model.get_config()
    config["preprocessor"] = keras.saving.serialize_keras_object(char_preprocessor(4))
    with pytest.raises(ValueError, match="vocab_size is 6 but the preprocessor's is 5"):
        CharLanguageModel.from_config(config)


def test_a_sentiment_network_smaller_than_the_vocabulary_is_refused_and_a_larger_one_accepted():
    preprocessor = SentimentPreprocessor(WORDS)
    with pytest.raises(ValueError, match=r"vocab_size is 4 but the preprocessor's vocabulary has 5 ids \(0 = padding, "
                                         r"1 = out-of-vocabulary"):
        SentimentClassifier(build_sentiment_classifier(4, **SMALL), preprocessor)
    # Rows no id reaches cost memory only: a user's vocabulary may come out shorter than max_tokens.
    SentimentClassifier(build_sentiment_classifier(8, **SMALL), preprocessor)


def test_a_sentiment_network_with_another_number_of_classes_is_refused():
    with pytest.raises(ValueError, match=r"3 classes but the preprocessor has 2 labels \['neg', 'pos'\]"):
        SentimentClassifier(build_sentiment_classifier(5, num_classes=3, **SMALL), SentimentPreprocessor(WORDS))


def test_a_tagger_with_the_wrong_vocab_size_or_number_of_tags_is_refused():
    preprocessor = PosTaggerPreprocessor(WORDS, ["DET", "NOUN", "VERB"])
    with pytest.raises(ValueError, match="vocab_size is 3 but the preprocessor's vocabulary has 5 ids"):
        PosTagger(build_pos_tagger(3, 3, **SMALL), preprocessor)
    with pytest.raises(ValueError, match=r"4 tags but the preprocessor has 3 \['DET', 'NOUN', 'VERB'\]"):
        PosTagger(build_pos_tagger(5, 4, **SMALL), preprocessor)
    PosTagger(build_pos_tagger(5, 3, **SMALL), preprocessor)
