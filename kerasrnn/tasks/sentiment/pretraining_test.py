"""Language-model pretraining of the sentiment encoder on real IMDB reviews, and starting `train` from it."""

import csv
import json
import os
import tarfile

import keras
import numpy as np
import pytest

from kerasrnn.shared_data import IMDB_TARBALL
from kerasrnn.tasks.sentiment import build_sentiment_classifier
from kerasrnn.tasks.sentiment.data import prepare
from kerasrnn.tasks.sentiment.pretraining import (
    ENCODER_WEIGHTS_FILE,
    PretrainingRecord,
    language_model_of,
    pretrain,
    read_record,
)
from kerasrnn.training.trainer import train

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
    record = read_record(out)
    assert record["corpus"]["train"]["labeled_reviews"] == 400 and record["corpus"]["train"]["unlabeled_reviews"] == 0
    assert [epoch["held_out_sampled_loss"] for epoch in record["epochs"]] == [round(loss, 4) for loss in losses]
    assert record["finished"] and record["seconds"] > 0 and record["held_out_perplexity"] > 1
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


# A small aclImdb folder: labeled train reviews, unlabeled ones, and test reviews that must never be read.
WORDS = "the a film movie was good bad great awful plot acting story fun dull and but very not".split()
SENTINEL = "testreviewsentinel"
TINY = {"cell": "gru", "units": 4, "embedding_dim": 4}
TINY_DATA = {"vocab_size": 60, "max_length": 20}


def _review(rng, tag):
    return " ".join([tag] + [WORDS[i] for i in rng.integers(len(WORDS), size=12)])


@pytest.fixture(scope="module")
def imdb_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("imdb")
    rng = np.random.default_rng(0)
    reviews = {"train": [], "unsup": []}
    for split, label, count, rating in [("train", "pos", 40, 8), ("train", "neg", 40, 2), ("train", "unsup", 50, 0)]:
        folder = root / "aclImdb" / "train" / label
        folder.mkdir(parents=True)
        for review_id in range(count):
            text = _review(rng, f"{label}{review_id}")
            (folder / f"{review_id}_{rating}.txt").write_text(text)
            reviews["unsup" if label == "unsup" else "train"].append(text)
    (root / "aclImdb" / "test" / "pos").mkdir(parents=True)
    (root / "aclImdb" / "test" / "neg").mkdir(parents=True)
    for review_id in range(20):
        # Readable sentinel texts, and links to nowhere that fail any attempt to read them.
        (root / "aclImdb" / "test" / "pos" / f"{review_id}_9.txt").write_text(f"{SENTINEL} " * 10)
        os.symlink(root / "nowhere" / f"{review_id}.txt", root / "aclImdb" / "test" / "neg" / f"{review_id}_1.txt")
    return str(root), reviews


def test_the_unlabeled_reviews_join_the_training_reviews_and_the_test_reviews_are_never_read(
        imdb_folder, tmp_path, monkeypatch):
    import kerasrnn.data.imdb as imdb
    import kerasrnn.tasks.sentiment.data as sentiment_data

    root, reviews = imdb_folder
    splits_read, files_opened, pipelines = [], [], []
    real_load_imdb, real_review_examples = imdb.load_imdb, sentiment_data.review_examples

    def load_imdb(path, splits=imdb.SPLITS, **options):
        splits_read.append(tuple(splits))
        return real_load_imdb(path, splits, **options)

    def spy_open(path, *args, **kwargs):
        files_opened.append(str(path))
        return open(path, *args, **kwargs)

    def review_examples(preprocessor, texts, labels=None, **options):
        pipelines.append((list(texts), labels is not None))
        return real_review_examples(preprocessor, texts, labels, **options)

    monkeypatch.setattr(imdb, "load_imdb", load_imdb)
    monkeypatch.setattr(sentiment_data, "load_imdb", load_imdb)
    monkeypatch.setattr(imdb, "open", spy_open, raising=False)  # the folder reader's `open`
    monkeypatch.setattr(sentiment_data, "review_examples", review_examples)
    out = str(tmp_path / "pretraining")
    pretrain(root, out, TINY, TINY_DATA, batch_size=16, verbose=0, unlabeled=root, epochs=1, num_sampled=8)

    assert splits_read and all("test" not in splits for splits in splits_read) and ("unsup",) in splits_read
    assert files_opened and not [path for path in files_opened if f"{os.sep}test{os.sep}" in path]
    assert not [text for texts, _ in pipelines for text in texts if SENTINEL in text]
    # prepare's two labeled pipelines (the classifier's training and validation reviews), then the LM's corpus.
    (classifier_train, _), (validation, _), (corpus, labeled) = pipelines
    assert not labeled and sorted(corpus) == sorted(classifier_train + reviews["unsup"])
    assert not set(corpus) & set(validation) and sorted(classifier_train + validation) == sorted(reviews["train"])
    record = read_record(out)
    assert record["corpus"]["train"] == {"labeled_reviews": 72, "unlabeled_reviews": 50, "reviews": 122,
                                         "tokens": 122 * 13}
    assert record["corpus"]["held_out"] == {"reviews": 8, "tokens": 8 * 13}
    # The vocabulary, and so the classifier's spec, comes from the labeled training reviews alone.
    plain = prepare(root, batch_size=16, **TINY_DATA)
    assert record["corpus"]["vocab_size"] == plain.spec_arguments["vocab_size"] == 60
    assert not [word for word in plain.preprocessor.vocabulary if word.startswith("unsup")]
    assert len(record["epochs"]) == 1 and record["epochs"][0]["seconds"] > 0 and record["finished"]


def test_an_interrupted_pretraining_resumes_at_its_next_epoch(imdb_folder, tmp_path, monkeypatch):
    root, _ = imdb_folder
    out = str(tmp_path / "pretraining")
    began = []
    monkeypatch.setattr(PretrainingRecord, "on_epoch_begin", lambda self, epoch, logs=None: began.append(epoch),
                        raising=False)
    from kerasrnn.training.backup import AtomicBackupAndRestore

    real_end = AtomicBackupAndRestore.on_epoch_end

    def stop_after_the_first_epoch(self, epoch, logs=None):
        real_end(self, epoch, logs)
        raise KeyboardInterrupt  # as Ctrl-C after the epoch's checkpoint (the last callback)

    monkeypatch.setattr(AtomicBackupAndRestore, "on_epoch_end", stop_after_the_first_epoch)
    arguments = dict(builder_options=TINY, data_options=TINY_DATA, batch_size=16, verbose=0, unlabeled=root,
                     epochs=2, num_sampled=8)
    with pytest.raises(KeyboardInterrupt):
        pretrain(root, out, **arguments)
    assert not read_record(out)["finished"] and len(read_record(out)["epochs"]) == 1
    monkeypatch.setattr(AtomicBackupAndRestore, "on_epoch_end", real_end)
    pretrain(root, out, **arguments)
    assert began == [0, 1]  # the second process ran only the second epoch
    assert not os.path.exists(os.path.join(out, "backup"))  # removed once the weights are written
    record = read_record(out)
    assert [epoch["epoch"] for epoch in record["epochs"]] == [1, 2] and record["finished"]
    assert record["seconds"] == round(sum(epoch["seconds"] for epoch in record["epochs"]), 1)


def test_a_pretraining_is_not_resumed_on_another_corpus(imdb_folder, tmp_path):
    root, _ = imdb_folder
    out = tmp_path / "pretraining"
    out.mkdir()
    (out / "pretraining.json").write_text(json.dumps({"corpus": {"train": {"unlabeled_reviews": 0}}}))
    with pytest.raises(ValueError, match="holds a pretraining of another corpus"):
        pretrain(root, str(out), TINY, TINY_DATA, batch_size=16, verbose=0, unlabeled=root, epochs=1, num_sampled=8)


@pytest.fixture
def labeled_only_archive(tmp_path):
    path = tmp_path / "labeled.tar.gz"
    review = tmp_path / "review.txt"
    review.write_text("a good film")
    with tarfile.open(path, "w:gz") as archive:
        archive.add(review, "aclImdb/train/pos/0_9.txt")
        archive.add(review, "aclImdb/test/pos/0_9.txt")
    return str(path)


@pytest.mark.parametrize(
    "unlabeled, message",
    [
        ("labeled_only_archive", "`unlabeled`: '.*labeled.tar.gz' holds no unlabeled reviews"),
        ("/nonexistent/aclImdb_v1_unsup.tar.gz", "`unlabeled`: '/nonexistent/aclImdb_v1_unsup.tar.gz' does not exist"),
        (50000, "`unlabeled` must be the path of IMDB's unlabeled reviews. Received: 50000"),
    ],
)
def test_unlabeled_must_hold_the_unlabeled_reviews(unlabeled, message, request, tmp_path, monkeypatch):
    if unlabeled == "labeled_only_archive":
        unlabeled = request.getfixturevalue(unlabeled)

    def refuse(*args, **kwargs):
        raise AssertionError("the labeled reviews were read before `unlabeled` was checked")

    monkeypatch.setattr("kerasrnn.tasks.sentiment.data.prepare", refuse)
    with pytest.raises(ValueError, match=message) as error:
        pretrain(IMDB_TARBALL, str(tmp_path / "pretraining"), TINY, unlabeled=unlabeled)
    assert "\n" not in str(error.value)
    assert not os.path.exists(tmp_path / "pretraining")
