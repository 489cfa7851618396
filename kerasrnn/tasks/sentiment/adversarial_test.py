"""Adversarial and virtual adversarial training on real IMDB reviews, with a tiny classifier."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasrnn.data.imdb import LABELS, load_imdb
from kerasrnn.layers.standardize import standardize_review
from kerasrnn.shared_data import IMDB_TARBALL
from kerasrnn.tasks.sentiment import SentimentClassifier, SentimentPreprocessor, build_sentiment_classifier
from kerasrnn.tasks.sentiment.adversarial import (
    AdversarialTraining,
    EmbeddedNetwork,
    kl_divergence,
    with_unlabeled_batches,
)


@pytest.fixture(scope="module")
def reviews():
    texts, labels = load_imdb(IMDB_TARBALL, splits=("train",))["train"]
    # 200 real reviews of both classes.
    order = np.random.default_rng(0).permutation(len(texts))[:200]
    return [texts[i] for i in order], np.asarray(labels)[order]


@pytest.fixture(scope="module")
def preprocessor(reviews):
    vectorizer = keras.layers.TextVectorization(max_tokens=2000, standardize=standardize_review)
    vectorizer.adapt(reviews[0])
    return SentimentPreprocessor(vectorizer.get_vocabulary(), LABELS, max_length=60)


def tiny_classifier(preprocessor, seed=7, **options):
    keras.utils.set_random_seed(seed)
    network = build_sentiment_classifier(len(preprocessor.vocabulary), units=8, embedding_dim=8, **options)
    return SentimentClassifier(network, preprocessor)


def padded_batch(preprocessor, texts):
    # Reviews of different lengths padded to the longest: real padding to check.
    rows = [preprocessor(tf.constant(text)).numpy() for text in texts]
    longest = max(len(row) for row in rows)
    ids = np.zeros((len(rows), longest + 5), "int32")
    for i, row in enumerate(rows):
        ids[i, :len(row)] = row
    return tf.constant(ids)


def clean_gradient(model, ids, labels):
    split = EmbeddedNetwork(model.network)
    embedded, mask = split.embed(ids)
    with tf.GradientTape() as tape:
        tape.watch(embedded)
        loss = keras.losses.sparse_categorical_crossentropy(labels, tf.nn.softmax(split.logits(embedded, mask)))
        loss = tf.reduce_mean(loss)
    return split, embedded, mask, loss, tape.gradient(loss, embedded)


def briefly_trained(preprocessor, reviews, **adversarial):
    model = tiny_classifier(preprocessor)
    if adversarial:
        model.use_adversarial_training(**adversarial)
    texts, labels = reviews
    model.fit(texts, labels, batch_size=32, epochs=1, shuffle=False, verbose=0)  # 7 steps
    return model


def test_the_perturbation_has_norm_epsilon_per_review_and_is_zero_at_padding(preprocessor, reviews):
    model = tiny_classifier(preprocessor)
    texts, labels = reviews
    ids = padded_batch(preprocessor, [texts[0][:200], texts[1], texts[2][:400], texts[3]])
    _, _, mask, _, gradient = clean_gradient(model, ids, labels[:4])
    perturbation = AdversarialTraining("at", epsilon=2.5).adversarial_perturbation(gradient, mask).numpy()
    np.testing.assert_allclose(np.sqrt((perturbation**2).sum(axis=(1, 2))), 2.5, atol=1e-5)
    padding = ids.numpy() == 0
    assert padding.sum() > 0 and np.all(perturbation[padding] == 0.0)
    assert np.all(np.abs(perturbation[~padding]).sum(axis=-1) > 0)


def test_the_adversarial_loss_exceeds_the_clean_loss_on_a_briefly_trained_model(preprocessor, reviews):
    model = briefly_trained(preprocessor, reviews)
    texts, labels = reviews
    ids = padded_batch(preprocessor, texts[:32])
    split, embedded, mask, clean, gradient = clean_gradient(model, ids, labels[:32])
    perturbation = AdversarialTraining("at", epsilon=1.0).adversarial_perturbation(gradient, mask)
    adversarial = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
        labels[:32], tf.nn.softmax(split.logits(embedded + perturbation, mask))))
    assert float(adversarial) > float(clean)
    # A random perturbation of the same norm hurts less than the adversarial one.
    random = AdversarialTraining("at", epsilon=1.0).adversarial_perturbation(
        tf.random.stateless_normal(tf.shape(embedded), (1, 2)), mask)
    randomly = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
        labels[:32], tf.nn.softmax(split.logits(embedded + random, mask))))
    assert float(adversarial) > float(randomly)


def test_the_virtual_adversarial_kl_is_positive(preprocessor, reviews):
    model = briefly_trained(preprocessor, reviews)
    ids = padded_batch(preprocessor, reviews[0][:16])
    split = EmbeddedNetwork(model.network)
    embedded, mask = split.embed(ids)
    logits = split.logits(embedded, mask)
    assert float(tf.reduce_min(kl_divergence(logits, logits))) == 0.0
    kl = AdversarialTraining("vat", epsilon=1.0).virtual_adversarial_loss(
        split, embedded, mask, logits, tf.constant(0), training=False)
    assert float(kl) > 0.0


def test_embedded_network_gives_the_networks_own_predictions(preprocessor, reviews):
    model = tiny_classifier(preprocessor, word_dropout=0.1, dropout=0.2, pooling="mean")
    ids = padded_batch(preprocessor, reviews[0][:4])
    split = EmbeddedNetwork(model.network)
    probabilities = tf.nn.softmax(split.logits(*split.embed(ids)))
    np.testing.assert_allclose(probabilities, model.network(ids), atol=1e-6)


@pytest.mark.parametrize("mode", ["at", "vat"])
def test_an_adversarially_trained_classifier_saves_and_loads_as_a_plain_one(preprocessor, reviews, tmp_path, mode):
    model = tiny_classifier(preprocessor).use_adversarial_training(mode, epsilon=1.0)
    texts, labels = reviews
    model.fit(texts[:32], labels[:32], batch_size=32, epochs=1, shuffle=False, verbose=0)
    assert "adversarial" not in str(model.get_config())
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is SentimentClassifier and getattr(loaded, "adversarial_training", None) is None
    np.testing.assert_allclose(loaded.predict(texts[:8], verbose=0), model.predict(texts[:8], verbose=0), atol=1e-6)


@pytest.mark.parametrize("mode", ["at", "vat"])
def test_the_same_seed_gives_the_same_weights_after_two_steps(preprocessor, reviews, mode):
    texts, labels = reviews

    def two_steps():
        model = tiny_classifier(preprocessor, seed=3, dropout=0.2).use_adversarial_training(mode, epsilon=1.0, seed=5)
        model.fit(texts[:64], labels[:64], batch_size=32, epochs=1, shuffle=False, verbose=0)
        return model.get_weights()

    first, second = two_steps(), two_steps()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    plain = tiny_classifier(preprocessor, seed=3, dropout=0.2)
    plain.fit(texts[:64], labels[:64], batch_size=32, epochs=1, shuffle=False, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(first, plain.get_weights()))


def test_vat_trains_on_unlabeled_batches_too(preprocessor, reviews):
    model = tiny_classifier(preprocessor).use_adversarial_training("vat", epsilon=1.0)
    texts, labels = reviews
    labeled = model.raw_dataset(texts[:64], labels[:64], batch_size=32)
    unlabeled = model.raw_dataset(texts[100:164], batch_size=32, keep_order=True)
    history = model.fit(with_unlabeled_batches(labeled, unlabeled), epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and "accuracy" in history.history


def test_standardized_embeddings_stay_standardized(preprocessor, reviews):
    model = tiny_classifier(preprocessor).use_adversarial_training("at", normalize_embeddings="standardize")
    texts, labels = reviews
    model.fit(texts[:32], labels[:32], batch_size=32, epochs=1, shuffle=False, verbose=0)
    rows = model.network.get_layer("embedding").embeddings.numpy()
    np.testing.assert_allclose(rows[1:].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(rows[1:].std(axis=0), 1.0, atol=1e-3)
    assert np.all(rows[0] == 0)


def test_none_turns_adversarial_training_off(preprocessor):
    model = tiny_classifier(preprocessor).use_adversarial_training("at")
    assert model.use_adversarial_training("none").adversarial_training is None


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"adversarial": "fgsm"}, "`adversarial` must be one of 'none', 'at', 'vat'. Received: adversarial='fgsm'"),
        ({"epsilon": 0.0}, "`adversarial_epsilon` must be a finite number > 0"),
        ({"epsilon": -2.0}, "`adversarial_epsilon` must be a finite number > 0"),
        ({"epsilon": float("nan")}, "`adversarial_epsilon` must be a finite number > 0"),
        ({"epsilon": "5"}, "`adversarial_epsilon` must be a finite number > 0"),
        ({"normalize_embeddings": "l1"}, "`normalize_embeddings` must be one of None, 'standardize'"),
    ],
)
def test_bad_settings_are_refused_in_one_line(preprocessor, arguments, message):
    model = tiny_classifier(preprocessor)
    with pytest.raises(ValueError) as error:
        model.use_adversarial_training(**{"adversarial": "at", **arguments})
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_train_with_vat_on_unlabeled_reviews_saves_a_plain_classifier(tmp_path):
    import json
    import os

    from kerasrnn.shared_data import SHARED_DATA
    from kerasrnn.training.trainer import load_trained, train

    unlabeled = os.path.join(SHARED_DATA, "aclImdb_v1_unsup.tar.gz")
    metrics = train("sentiment", IMDB_TARBALL, str(tmp_path), {"units": 4, "embedding_dim": 4},
                    {"vocab_size": 500, "max_length": 30}, batch_size=32, max_examples=64, verbose=0,
                    adversarial="vat", adversarial_epsilon=1.0, unlabeled=unlabeled)
    assert np.isfinite(metrics["loss"])
    with open(tmp_path / "run.json") as file:
        assert json.load(file)["training"]["adversarial"] == "vat"
    model, spec = load_trained(str(tmp_path))
    assert type(model) is SentimentClassifier and "adversarial" not in spec
    assert getattr(model, "adversarial_training", None) is None


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"adversarial": "at", "adversarial_epsilon": -1.0}, "`adversarial_epsilon` must be a finite number > 0"),
        ({"adversarial_epsilon": 1.0}, "`adversarial_epsilon` needs adversarial='at' or 'vat'"),
        ({"adversarial": "at", "unlabeled": "unsup.tar.gz"}, "`unlabeled` reviews are only used by adversarial='vat'"),
        ({"adversarial": "vat", "unlabeled": "/no/such.tar.gz"}, "`unlabeled`: '/no/such.tar.gz' does not exist"),
        ({"adversarial": "fgsm"}, "`adversarial` must be one of"),
    ],
)
def test_train_refuses_bad_adversarial_options_before_writing_anything(tmp_path, arguments, message):
    from kerasrnn.training.trainer import train

    with pytest.raises(ValueError) as error:
        train("sentiment", IMDB_TARBALL, str(tmp_path / "run"), **arguments)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
    assert not (tmp_path / "run").exists()


def test_train_refuses_adversarial_options_for_another_task(tmp_path):
    from kerasrnn.shared_data import SHAKESPEARE
    from kerasrnn.training.trainer import train

    with pytest.raises(ValueError, match="Unknown argument\\(s\\) adversarial of `train` for task 'char_lm'"):
        train("char_lm", SHAKESPEARE, str(tmp_path / "run"), adversarial="at")


def test_the_command_line_takes_the_adversarial_options(tmp_path, capsys):
    from kerasrnn.cli import build_parser, main

    arguments = build_parser().parse_args(
        ["train", "sentiment", "--data", "d", "--out", "o", "--adversarial", "vat", "--adversarial-epsilon", "2",
         "--unlabeled", "u.tar.gz"])
    assert (arguments.adversarial, arguments.adversarial_epsilon, arguments.unlabeled) == ("vat", 2.0, "u.tar.gz")
    code = main(["train", "char_lm", "--data", "d", "--out", str(tmp_path), "--adversarial", "at"])
    assert code != 0 and "--adversarial: not an option of the char_lm task." in capsys.readouterr().err
