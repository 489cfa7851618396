"""Language-model pretraining of the sentiment encoder on real IMDB reviews, and starting `train` from it."""

import csv
import os

import keras
import numpy as np
import pytest

from kerasrnn.shared_data import IMDB_TARBALL
from kerasrnn.tasks.sentiment import build_sentiment_classifier
from kerasrnn.tasks.sentiment.data import prepare
from kerasrnn.tasks.sentiment.pretraining import ENCODER_WEIGHTS_FILE, language_model_of, pretrain
from kerasrnn.training import train

OPTIONS = {"cell": "gru", "units": 16, "embedding_dim": 16, "word_dropout": 0.1}
DATA_OPTIONS = {"vocab_size": 2000, "max_length": 80}


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("pretraining"))
    # What `pretrain` starts from: the same data, seed and network, for the untrained loss.
    keras.utils.set_random_seed(1337)
    data = prepare(IMDB_TARBALL, batch_size=32, max_examples=400, **DATA_OPTIONS)
    network = build_sentiment_classifier(**data.spec_arguments, **OPTIONS)
    untrained = language_model_of(network, num_sampled=100, seed=1)
    untrained.compile()
    untrained_loss = untrained.evaluate(data.validation.map(lambda ids, labels: ids), verbose=0)
    initial = [weights.copy() for weights in network.get_weights()]
    path = pretrain(IMDB_TARBALL, out, OPTIONS, DATA_OPTIONS, batch_size=32, max_examples=400,
                    verbose=0, epochs=2, num_sampled=100, learning_rate=5e-3)
    return out, path, untrained_loss, initial, data.spec_arguments


def test_the_language_model_learns_the_real_reviews(pretrained):
    out, path, untrained_loss, *_ = pretrained
    assert path == os.path.join(out, ENCODER_WEIGHTS_FILE) and os.path.isfile(path)
    with open(os.path.join(out, "epochs.csv"), newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["epoch"] for row in rows] == ["0", "1"]
    losses = [float(row["val_loss"]) for row in rows]
    # Sampled softmax scores the target against 100 words drawn by frequency; untrained
    # (6.5 nats when measured), the held-out reviews' loss is far above what word
    # statistics learned from 400 training reviews reach (4.1 to 4.3 nats measured).
    assert min(losses) < untrained_loss - 1.0, (untrained_loss, losses)


def test_the_encoder_learns_and_the_classifier_head_does_not(pretrained):
    _, path, _, initial, spec_arguments = pretrained
    # The same network `pretrain` built (same seed), before and after the language model trained.
    network = build_sentiment_classifier(**spec_arguments, **OPTIONS)
    network.load_weights(path)
    changed = {
        variable.path: not np.array_equal(before, variable.numpy())
        for variable, before in zip(network.weights, initial)
    }
    assert changed["embedding/embeddings"] and changed["bidirectional_gru_1/forward_gru_1/gru_cell/kernel"]
    assert changed["bidirectional_gru_1/backward_gru_1/gru_cell/recurrent_kernel"]
    assert not changed["probabilities/kernel"]  # the language model never reads the classifier's head


def test_a_finished_pretraining_is_loaded_not_repeated(pretrained):
    out, path, *_ = pretrained
    stamp = os.path.getmtime(path)
    again = pretrain(IMDB_TARBALL, out, OPTIONS, DATA_OPTIONS, batch_size=32, max_examples=400, verbose=0,
                     epochs=2, num_sampled=100)
    assert again == path and os.path.getmtime(path) == stamp


def test_train_starts_from_the_pretrained_weights(pretrained, tmp_path):
    _, path, *_ = pretrained
    seen = {}

    class FirstWeights(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen["embedding"] = self.model.network.get_layer("embedding").get_weights()[0].copy()

    train("sentiment", IMDB_TARBALL, str(tmp_path), {**OPTIONS}, DATA_OPTIONS, epochs=1, batch_size=32,
          max_examples=100, verbose=0, callbacks=[FirstWeights()], initial_weights=path)
    network = build_sentiment_classifier(vocab_size=len(seen["embedding"]), **OPTIONS)
    network.load_weights(path)
    np.testing.assert_array_equal(seen["embedding"], network.get_layer("embedding").get_weights()[0])


@pytest.mark.parametrize(
    "options, message",
    [
        ({"num_layers": 2}, "one recurrent layer \\(num_layers=1\\); 'sentiment_gru' has 2"),
        ({"pooling": "last"}, "pooling 'max' or 'mean', not 'last'"),
    ],
)
def test_networks_a_language_model_cannot_pretrain_are_refused(options, message):
    network = build_sentiment_classifier(vocab_size=100, cell="gru", units=4, embedding_dim=4, **options)
    with pytest.raises(ValueError, match=message):
        language_model_of(network)


def test_tasks_without_pretraining_say_so():
    from kerasrnn.tasks.registry import get_task

    assert get_task("sentiment").pretraining().pretrain is pretrain
    with pytest.raises(ValueError, match="Task 'pos_tagger' has no pretraining"):
        get_task("pos_tagger").pretraining()


def test_a_bad_builder_option_is_refused_before_the_reviews_are_read(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the reviews were read before the builder options were checked")

    monkeypatch.setattr("kerasrnn.tasks.sentiment.data.prepare", refuse)
    with pytest.raises(ValueError, match="`dropout` must be a number in \\[0, 1\\)"):
        pretrain(IMDB_TARBALL, str(tmp_path / "pretraining"), {"dropout": 1.5})
    assert not os.path.exists(tmp_path / "pretraining")
