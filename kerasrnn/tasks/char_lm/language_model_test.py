"""CharLanguageModel: raw text fit/evaluate, one sampler in Python, CLI and export; save/load as its class."""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasrnn.cli import main
from kerasrnn.data.text import read_text, split_text
from kerasrnn.export import export_for_serving
from kerasrnn.shared_data import SHAKESPEARE
from kerasrnn.tasks.char_lm import CharLanguageModel, CharLanguageModelPreprocessor, build_char_lm


def as_json(config):
    return json.loads(json.dumps(config))  # JSON has lists where configs have tuples


@pytest.fixture(scope="module")
def trained():
    train_text, _ = split_text(read_text(SHAKESPEARE))
    preprocessor = CharLanguageModelPreprocessor(sorted(set(train_text)), sequence_length=50)
    model = CharLanguageModel(build_char_lm(len(preprocessor.labels), units=64, num_layers=1), preprocessor)
    keras.utils.set_random_seed(0)
    model.fit(train_text[:200_000], batch_size=32, epochs=2, verbose=0)
    return model


def test_raw_text_training_beats_the_unigram_model(trained):
    _, validation = split_text(read_text(SHAKESPEARE))
    metrics = trained.evaluate(validation, return_dict=True, verbose=0)
    # The unigram (context-free) cross-entropy of the validation text is 3.35 nats.
    assert metrics["nats_per_char"] < 2.9, metrics
    assert metrics["bits_per_char"] == pytest.approx(metrics["nats_per_char"] / math.log(2), rel=1e-5)


def test_one_sampler_in_python_cli_and_export(trained, tmp_path, capsys):
    trained.save(tmp_path / "lm.keras")
    python = trained.generate("ROMEO:", length=40, temperature=0.8, seed=7)
    assert python == trained.generate("ROMEO:", length=40, temperature=0.8, seed=7)
    assert python != trained.generate("ROMEO:", length=40, temperature=0.8, seed=8)
    assert main(["generate", str(tmp_path / "lm.keras"), "--prompt", "ROMEO:", "--length", "40",
                 "--temperature", "0.8", "--seed", "7"]) == 0
    assert capsys.readouterr().out.rstrip("\n") == python
    exported = export_for_serving(trained, tmp_path / "export" / "lm")
    generate = tf.saved_model.load(exported.path).signatures["generate"]
    served = generate(prompt=tf.constant(["ROMEO:"]), max_length=tf.constant([40]),
                      temperature=tf.constant([0.8]), seed=tf.constant([7], tf.int64))["text"][0].numpy().decode()
    assert served == python


def test_temperature_zero_is_greedy(trained):
    text = trained.generate("KING:", length=20, temperature=0.0, seed=1)
    assert text == trained.generate("KING:", length=20, temperature=0.0, seed=2)
    logits = trained.predict([text], verbose=0)[0]
    characters = trained.preprocessor.labels
    for position in range(len("KING:"), len(text)):
        assert text[position] == characters[1 + int(np.argmax(logits[position - 1, 1:]))]


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"prompt": ""}, "`prompt` must be non-empty text"),
        ({"prompt": "ROMEO\u00e9"}, "characters the model never saw"),
        ({"length": -1}, "`length` must be an integer from 0 to 2000"),
        ({"length": 2001}, "`length` must be an integer from 0 to 2000"),
        ({"temperature": float("nan")}, "`temperature` must be a finite number >= 0"),
        ({"seed": 2**70}, "`seed` must be a 64-bit integer"),
    ],
)
def test_bad_generate_arguments_are_clear_errors(trained, arguments, message):
    with pytest.raises(ValueError, match=message):
        trained.generate(**{"prompt": "ROMEO:", **arguments})


def test_saved_file_loads_back_as_the_class_with_identical_outputs(trained, tmp_path):
    trained.save(tmp_path / "lm.keras")
    loaded = keras.saving.load_model(tmp_path / "lm.keras", safe_mode=True)
    assert type(loaded) is CharLanguageModel
    np.testing.assert_array_equal(loaded.predict(["To be, or not"], verbose=0),
                                  trained.predict(["To be, or not"], verbose=0))
    config = trained.get_config()
    assert as_json(CharLanguageModel.from_config(as_json(config)).get_config()) == as_json(config)


def test_cli_evaluate_reports_model_evaluate(trained, tmp_path, capsys):
    trained.save(tmp_path / "lm.keras")
    assert main(["evaluate", str(tmp_path / "lm.keras"), "--data", SHAKESPEARE]) == 0
    reported = json.loads(capsys.readouterr().out)
    _, validation = split_text(read_text(SHAKESPEARE))
    expected = trained.evaluate(validation, return_dict=True, verbose=0)
    assert reported["characters"] == 110592
    assert reported["nats_per_char"] == pytest.approx(expected["nats_per_char"], abs=1e-6)
