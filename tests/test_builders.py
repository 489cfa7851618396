"""The three builders × the three cells: shapes, masking, saving, options, errors."""

import json
import re

import keras
import numpy as np
import pytest

import kerasrnn
from kerasrnn.tasks.model_spec import build_from_spec, load_spec, save_spec
from kerasrnn.layers import WordDropout

CELLS = ["simple_rnn", "lstm", "gru"]
SMALL = {"units": 8, "embedding_dim": 8}


def build(task, cell, **options):
    spec = {"task": task, "cell": cell, **SMALL, **options}
    if task == "pos_tagger":
        spec.setdefault("num_tags", 5)
    return build_from_spec({"vocab_size": 30, **spec})


def ids(batch=3, time=7, seed=0):
    return np.random.default_rng(seed).integers(2, 30, size=(batch, time)).astype("int32")


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(
    "task, expected",
    [("sentiment", (3, 2)), ("pos_tagger", (3, 7, 5)), ("char_lm", (3, 7, 30))],
)
def test_output_shapes_and_save_load_round_trip(tmp_path, task, expected, cell):
    model = build(task, cell, num_layers=2)
    before = model.predict(ids(), verbose=0)
    assert before.shape == expected
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(ids(), verbose=0), before, atol=1e-6)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("task, options", [
    ("sentiment", {}), ("sentiment", {"pooling": "mean"}), ("sentiment", {"pooling": "last"}), ("pos_tagger", {}),
])
def test_padding_changes_nothing(task, options, cell):
    model = build(task, cell, bidirectional=True, num_layers=2, **options)
    sentence = ids(batch=1, time=6)
    short = np.pad(sentence, ((0, 0), (0, 4)))
    long = np.pad(sentence, ((0, 0), (0, 194)))
    out_short = model.predict(short, verbose=0)
    out_long = model.predict(long, verbose=0)
    if task == "pos_tagger":
        out_short, out_long = out_short[:, :6], out_long[:, :6]
    np.testing.assert_allclose(out_short, out_long, atol=1e-5)


def test_tagger_loss_and_accuracy_ignore_padding():
    model = build("pos_tagger", "gru")
    words = ids(batch=2, time=5)
    tags = np.random.default_rng(1).integers(0, 5, size=(2, 5))
    tight = model.evaluate(words, tags, verbose=0, return_dict=True)
    # Padding whose "gold tag" the model would get wrong or right must not count.
    padded_words = np.pad(words, ((0, 0), (0, 20)))
    for fill in (0, 3):
        padded_tags = np.pad(tags, ((0, 0), (0, 20)), constant_values=fill)
        loose = model.evaluate(padded_words, padded_tags, verbose=0, return_dict=True)
        assert loose["accuracy"] == pytest.approx(tight["accuracy"], abs=1e-6)
        assert loose["loss"] == pytest.approx(tight["loss"], rel=1e-5)


@pytest.mark.parametrize(
    "option, value", [("clipnorm", 1.0), ("clipvalue", 0.5), ("global_clipnorm", 2.0)]
)
def test_clipping_option_reaches_the_optimizer(option, value):
    model = build("char_lm", "lstm", optimizer="rmsprop", learning_rate=0.01, **{option: value})
    assert isinstance(model.optimizer, keras.optimizers.RMSprop)
    assert float(getattr(model.optimizer, option)) == value
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)


def test_two_clipping_options_are_refused():
    with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue` and `global_clipnorm`"):
        build("sentiment", "gru", clipnorm=1.0, clipvalue=0.5)


@pytest.mark.parametrize(
    "initializer, cls", [("glorot_normal", "GlorotNormal"), ("he_uniform", "HeUniform"), ("he_normal", "HeNormal")]
)
def test_initializers_reach_every_recurrent_layer(initializer, cls):
    model = build("sentiment", "lstm", num_layers=2, kernel_initializer=initializer, bidirectional=True)
    recurrent = [layer for layer in model.layers if isinstance(layer, keras.layers.Bidirectional)]
    assert len(recurrent) == 2
    for wrapper in recurrent:
        for layer in (wrapper.forward_layer, wrapper.backward_layer):
            assert type(layer.cell.kernel_initializer).__name__ == cls
            assert type(layer.cell.recurrent_initializer).__name__ == "Orthogonal"


def test_recurrent_initializer_changes_the_recurrent_kernel():
    model = build("char_lm", "simple_rnn", recurrent_initializer="identity")
    kernel = model.get_layer("simple_rnn_1").cell.recurrent_kernel.numpy()
    np.testing.assert_array_equal(kernel, np.eye(8))


def test_cells_are_the_keras_layers_asked_for():
    from kerasrnn.layers.fast_rnn import FastGRU, FastLSTM, FastSimpleRNN

    # Every cell: a subclass of the Keras layer with the same config and weights, on fused CPU kernels.
    builder_classes = (FastSimpleRNN, FastLSTM, FastGRU)
    for cell, cls in zip(CELLS, builder_classes):
        model = build("char_lm", cell, num_layers=3)
        recurrent = [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]
        assert [type(layer) for layer in recurrent] == [cls] * 3
    for cls, keras_class in zip((FastSimpleRNN, FastLSTM, FastGRU),
                                (keras.layers.SimpleRNN, keras.layers.LSTM, keras.layers.GRU)):
        assert issubclass(cls, keras_class)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"cell": "transformer"}, "`cell` must be one of 'simple_rnn', 'lstm', 'gru'"),
        ({"units": 0}, "`units` must be a positive integer"),
        ({"num_layers": -1}, "`num_layers` must be a positive integer"),
        ({"embedding_dim": 2.5}, "`embedding_dim` must be a positive integer"),
        ({"vocab_size": 0}, "`vocab_size` must be a positive integer"),
        ({"dropout": 1.0}, r"`dropout` must be a number in \[0, 1\)"),
        ({"recurrent_dropout": -0.1}, r"`recurrent_dropout` must be a number in \[0, 1\)"),
        ({"optimizer": "adamax"}, "`optimizer` must be one of 'adam'"),
        ({"learning_rate": 0}, "`learning_rate` must be a positive number"),
        ({"kernel_initializer": "nope"}, "`kernel_initializer` must be a Keras initializer"),
        ({"recurrent_initializer": "nope"}, "`recurrent_initializer` must be a Keras initializer"),
        ({"clipnorm": -1.0}, "`clipnorm` must be a positive number"),
        ({"pooling": "attention"}, "`pooling` must be one of 'last', 'mean', 'max'"),
    ],
)
def test_bad_arguments_name_the_argument(options, message):
    with pytest.raises(ValueError, match=message):
        build_from_spec({"task": "sentiment", "vocab_size": 30, **options})


def test_char_lm_refuses_bidirectional_and_needs_a_batch_size_when_stateful():
    with pytest.raises(ValueError, match="causal"):
        kerasrnn.build_char_lm(30, bidirectional=True)
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer"):
        kerasrnn.build_char_lm(30, stateful=True)


# Each task's defaults, as the builders' signatures wrote them before the heads declared them.
TASK_DEFAULTS = {
    "sentiment": dict(num_classes=2, pooling="max", units=64, num_layers=1, bidirectional=True, embedding_dim=128,
                      learning_rate=2e-3, word_dropout=0.0),
    "pos_tagger": dict(units=128, num_layers=1, bidirectional=True, embedding_dim=128, learning_rate=1e-3,
                       char_vocab_size=None, char_embedding_dim=32, char_units=64, word_dropout=0.0),
    "char_lm": dict(units=256, num_layers=2, bidirectional=False, embedding_dim=64, learning_rate=2e-3,
                    stateful=False, batch_size=None),
}
BUILDERS = {"sentiment": kerasrnn.build_sentiment_classifier, "pos_tagger": kerasrnn.build_pos_tagger,
            "char_lm": kerasrnn.build_char_lm}
EVERY_TASK = dict(cell="lstm", dropout=0.0, recurrent_dropout=0.0, kernel_initializer="glorot_uniform",
                  recurrent_initializer="orthogonal", optimizer="adam", clipnorm=None, clipvalue=None,
                  global_clipnorm=None)


@pytest.mark.parametrize("task", sorted(TASK_DEFAULTS))
def test_each_task_keeps_its_defaults_and_its_builder_documents_them(task):
    head_class = kerasrnn.tasks.registry.get_task(task).head_class()
    defaults = head_class.option_defaults()
    required = {"vocab_size"} | ({"num_tags"} if task == "pos_tagger" else set())
    assert {name for name, value in defaults.items() if value is kerasrnn.tasks.task_head.REQUIRED} == required
    assert {name: value for name, value in defaults.items() if name not in required} == {
        **EVERY_TASK, **TASK_DEFAULTS[task]}
    for name, value in head_class.defaults.items():
        assert f"{name}={value!r}" in BUILDERS[task].__doc__, (task, name)


@pytest.mark.parametrize(
    "build, task, other_tasks_option",
    [(lambda **o: kerasrnn.build_sentiment_classifier(30, **o), "sentiment", "char_units"),
     (lambda **o: kerasrnn.build_pos_tagger(30, 5, **o), "pos_tagger", "pooling"),
     (lambda **o: kerasrnn.build_char_lm(30, **o), "char_lm", "word_dropout")],
)
def test_builders_refuse_an_option_their_task_does_not_take(build, task, other_tasks_option):
    with pytest.raises(ValueError, match=rf"Unknown argument\(s\) unit for a {task} network\. "
                                         r"Accepted: vocab_size, .*units.*global_clipnorm"):
        build(unit=8)
    with pytest.raises(ValueError, match=rf"Unknown argument\(s\) {other_tasks_option} "):
        build(**{other_tasks_option: 4})


def test_sentiment_needs_two_classes_and_supports_more():
    with pytest.raises(ValueError, match="`num_classes` must be at least 2"):
        kerasrnn.build_sentiment_classifier(30, num_classes=1)
    model = kerasrnn.build_sentiment_classifier(30, num_classes=5, **SMALL)
    assert model.output_shape == (None, 5)


def test_stateful_char_lm_carries_state_across_calls():
    model = kerasrnn.build_char_lm(30, stateful=True, batch_size=2, units=8, num_layers=1)
    window = ids(batch=2, time=4)
    first = model.predict(window, verbose=0)
    second = model.predict(window, verbose=0)
    assert not np.allclose(first, second)
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_states()
    np.testing.assert_allclose(model.predict(window, verbose=0), first, atol=1e-6)


def test_spec_json_round_trip_rebuilds_the_same_architecture(tmp_path):
    spec = {
        "task": "pos_tagger",
        "vocab_size": 40,
        "num_tags": 17,
        "cell": "gru",
        "units": 8,
        "num_layers": 2,
        "bidirectional": True,
        "dropout": 0.1,
        "kernel_initializer": "he_normal",
        "optimizer": "sgd",
        "clipvalue": 0.5,
    }
    path = tmp_path / "spec.json"
    save_spec(spec, path)
    assert json.loads(path.read_text()) == spec
    first, second = build_from_spec(spec), build_from_spec(load_spec(path))
    # Keras numbers auto-named objects (the mask's not_equal op, the optimizer)
    # per process; with the numbers dropped nothing may differ.
    same = lambda model: re.sub(r'"([a-z_]+?)_\d+"', r'"\1"', model.to_json())
    assert same(first) == same(second)
    assert [w.shape for w in first.get_weights()] == [w.shape for w in second.get_weights()]


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"task": "sentiment", "vocab_size": 10,', "malformed JSON at line 1"),
        ('["sentiment"]', "must be a JSON object"),
        ('{"task": "translation"}', "The spec's `task` is not a kerasrnn task: Unknown task 'translation'.*Tasks: char_lm, pos_tagger, sentiment"),
        ('{"task": "sentiment", "vocab_size": 10, "unit": 3}', r"Unknown argument\(s\) unit"),
        ('{"task": "pos_tagger", "vocab_size": 10}', "missing num_tags"),
    ],
)
def test_bad_spec_files_are_reported(tmp_path, text, message):
    path = tmp_path / "spec.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_spec(path)


def test_tagger_with_character_encoder_masks_padding_and_round_trips(tmp_path):
    model = kerasrnn.build_pos_tagger(30, 5, units=8, embedding_dim=8, num_layers=2, char_vocab_size=12, char_units=4)
    words = np.array([[3, 4, 5]])
    chars = np.random.default_rng(0).integers(2, 12, size=(1, 3, 6))
    short = model.predict({"token_ids": words, "char_ids": chars}, verbose=0)
    long = model.predict(
        {"token_ids": np.pad(words, ((0, 0), (0, 40))), "char_ids": np.pad(chars, ((0, 0), (0, 40), (0, 9)))},
        verbose=0,
    )
    np.testing.assert_allclose(short, long[:, :3], atol=1e-5)
    model.save(tmp_path / "tagger.keras")
    loaded = keras.saving.load_model(tmp_path / "tagger.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict({"token_ids": words, "char_ids": chars}, verbose=0), short, atol=1e-6)
    with pytest.raises(ValueError, match="`char_vocab_size` must be a positive integer"):
        kerasrnn.build_pos_tagger(30, 5, char_vocab_size=0)


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_pooled_sentiment_models_round_trip(tmp_path, pooling):
    model = build("sentiment", "gru", pooling=pooling)
    before = model.predict(ids(), verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict(ids(), verbose=0), before, atol=1e-6)


def test_word_dropout_replaces_only_real_words_and_only_while_training(tmp_path):
    layer = WordDropout(0.3, seed=0)
    ids = np.tile(np.arange(2, 202), (50, 1))
    ids[:, -20:] = 0  # padding
    dropped = layer(ids, training=True).numpy()
    assert set(np.unique(dropped[:, -20:])) == {0}
    replaced = dropped[:, :-20] == 1
    assert 0.27 < replaced.mean() < 0.33, replaced.mean()
    np.testing.assert_array_equal(dropped[:, :-20][~replaced], ids[:, :-20][~replaced])
    np.testing.assert_array_equal(layer(ids).numpy(), ids)
    model = kerasrnn.build_pos_tagger(30, 5, units=8, embedding_dim=8, word_dropout=0.25)
    assert model.get_layer("word_dropout").rate == 0.25
    words = np.array([[3, 4, 5, 0]])
    before = model.predict(words, verbose=0)  # inference: no word is dropped
    np.testing.assert_allclose(model.predict(words, verbose=0), before)
    model.save(tmp_path / "tagger.keras")
    loaded = keras.saving.load_model(tmp_path / "tagger.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict(words, verbose=0), before, atol=1e-6)
    with pytest.raises(ValueError, match=r"`word_dropout` must be a number in \[0, 1\)"):
        kerasrnn.build_pos_tagger(30, 5, word_dropout=1.0)


def test_sentiment_word_dropout_is_training_only_and_round_trips(tmp_path):
    model = kerasrnn.build_sentiment_classifier(30, units=8, embedding_dim=8, word_dropout=0.5)
    assert model.get_layer("word_dropout").rate == 0.5
    review = np.array([[3, 4, 5, 6, 0, 0]])
    before = model.predict(review, verbose=0)
    np.testing.assert_allclose(model(review, training=False).numpy(), before, atol=1e-6)
    model.save(tmp_path / "classifier.keras")
    loaded = keras.saving.load_model(tmp_path / "classifier.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict(review, verbose=0), before, atol=1e-6)
    assert "word_dropout" not in [layer.name for layer in kerasrnn.build_sentiment_classifier(30).layers]
    with pytest.raises(ValueError, match=r"`word_dropout` must be a number in \[0, 1\)"):
        kerasrnn.build_sentiment_classifier(30, word_dropout=-0.1)
