"""Short real-data trainings through the CLI, with thresholds a broken model cannot reach."""

import collections
import json
import os
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import EWT_DIR, IMDB_TARBALL, SHAKESPEARE
from kerasrnn.cli import main
from kerasrnn.data import read_conllu, read_text, split_text
from kerasrnn.training.trainer import load_trained, train
from kerasrnn.training.evaluation import evaluate_on_data


def run_cli(capsys, *arguments):
    status = main([str(argument) for argument in arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="module")
def sentiment_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sentiment")
    status = main(
        ["train", "sentiment", "--data", IMDB_TARBALL, "--out", str(out), "--max-examples", "4000",
         "--epochs", "2", "--cell", "gru", "--units", "32", "--embedding-dim", "32", "--max-length", "200",
         "--vocab-size", "10000", "--batch-size", "32"]
    )
    assert status == 0
    return out


def test_sentiment_beats_chance_on_the_official_test_reviews(sentiment_dir, capsys):
    status, out, _ = run_cli(capsys, "evaluate", sentiment_dir, "--data", IMDB_TARBALL)
    assert status == 0
    result = json.loads(out)
    assert result["examples"] == 25000
    # Chance is 0.5 on this balanced set; 2 short epochs on 4,000 reviews reach ~0.75.
    assert result["accuracy"] > 0.65, result


class CountBatches(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


def test_char_lm_train_examples_are_the_windows_trained(tmp_path):
    # --max-examples 200 on the char LM trains 3 batches of 64 windows of 100
    # characters (200 rounded down to whole batches); it reported 20001, the
    # characters of text it had kept.
    counter = CountBatches()
    metrics = train("char_lm", SHAKESPEARE, str(tmp_path), {"cell": "gru", "units": 4, "num_layers": 1},
                    max_examples=200, callbacks=[counter], verbose=0)
    assert metrics["train_examples"] == 192 == counter.batches * 64
    assert json.loads((tmp_path / "metrics.json").read_text())["train_examples"] == 192
    # Without --max-examples: every whole window of the 64 streams of the training text.
    train_text = split_text(read_text(SHAKESPEARE))[0]
    from kerasrnn.tasks.char_lm.data import prepare

    assert prepare(SHAKESPEARE, seq_len=50).train_examples == (len(train_text) - 1) // 64 // 50 * 64


def test_train_batches_by_the_tasks_default_batch_size(tmp_path):
    # `kerasrnn train sentiment` without --batch-size trains on batches of 128
    # reviews (the benchmarked default): 300 reviews are 3 batches, not 10.
    counter = CountBatches()
    train("sentiment", IMDB_TARBALL, str(tmp_path), {"units": 4, "embedding_dim": 4},
          {"vocab_size": 500, "max_length": 20}, max_examples=300, callbacks=[counter], verbose=0)
    assert counter.batches == 3
    from kerasrnn.cli import build_parser

    assert build_parser().parse_args(["train", "sentiment", "--data", "d", "--out", "o"]).batch_size is None


def test_sentiment_outputs_and_saved_model(sentiment_dir, capsys):
    for name in ("model.keras", "spec.json", "history.json", "metrics.json"):
        assert (sentiment_dir / name).is_file()
    assert not (sentiment_dir / "backup").exists()  # removed once training finished
    history = json.loads((sentiment_dir / "history.json").read_text())
    assert len(history["loss"]) == 2 and history["loss"][1] < history["loss"][0]
    status, out, _ = run_cli(capsys, "predict", sentiment_dir, "One of the best films I have ever seen. Wonderful!")
    assert status == 0
    answer = json.loads(out)
    assert answer["label"] in ("neg", "pos")
    assert sum(answer["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    # Only what inference needs is saved: the optimizer's configuration (to
    # fine-tune), no optimizer slots, nested or not.
    with zipfile.ZipFile(sentiment_dir / "model.keras") as archive:
        config = json.loads(archive.read("config.json"))
        assert config["class_name"] == "SentimentClassifier"
        assert "compile_config" not in json.dumps(config["config"]["network"])
        weights_bytes = archive.getinfo("model.weights.h5").file_size
    model, _ = load_trained(str(sentiment_dir))
    assert type(model).__name__ == "SentimentClassifier"
    assert weights_bytes < 1.2 * 4 * model.count_params() + 100_000
    # The saved model carries its vocabulary: padding a review changes nothing.
    review = "A dull, predictable plot and wooden acting."
    probabilities = model.predict(np.array([review, review + "  "], dtype=object), verbose=0)
    np.testing.assert_allclose(probabilities[0], probabilities[1], atol=1e-6)


def most_frequent_tag_accuracy(train_sentences, test_sentences):
    """Accuracy of tagging each word with its most frequent training tag."""
    by_word = collections.defaultdict(collections.Counter)
    for words, tags in train_sentences:
        for word, tag in zip(words, tags):
            by_word[word][tag] += 1
    overall = collections.Counter(tag for _, tags in train_sentences for tag in tags).most_common(1)[0][0]
    pairs = [(w, t) for words, tags in test_sentences for w, t in zip(words, tags)]
    right = sum((by_word[w].most_common(1)[0][0] if w in by_word else overall) == t for w, t in pairs)
    return right / len(pairs)


def test_tagger_beats_the_most_frequent_tag_baseline_on_dev(tmp_path, capsys):
    status, _, _ = run_cli(
        capsys, "train", "pos_tagger", "--data", EWT_DIR, "--out", tmp_path, "--max-examples", 3000,
        "--epochs", 4, "--units", 64, "--embedding-dim", 64, "--learning-rate", 0.003,
    )
    assert status == 0
    dev = os.path.join(EWT_DIR, "en_ewt-ud-dev.conllu")
    status, out, _ = run_cli(capsys, "evaluate", tmp_path, "--data", dev)
    result = json.loads(out)
    assert result["tokens"] == 25147 and result["sentences"] == 2001
    baseline = most_frequent_tag_accuracy(
        read_conllu(os.path.join(EWT_DIR, "en_ewt-ud-train.conllu"))[:3000], read_conllu(dev)
    )
    assert result["accuracy"] > baseline + 0.01, (result, baseline)
    status, out, _ = run_cli(capsys, "predict", tmp_path, "The dog barks .")
    assert [word for word, _ in json.loads(out)] == ["The", "dog", "barks", "."]


def test_char_lm_learns_context_and_generates_reproducibly(tmp_path, capsys):
    status, _, _ = run_cli(
        capsys, "train", "char_lm", "--data", SHAKESPEARE, "--out", tmp_path, "--max-examples", 3000,
        "--units", 128, "--num-layers", 1, "--batch-size", 32, "--epochs", 2, "--global-clipnorm", 5,
    )
    assert status == 0
    status, out, _ = run_cli(capsys, "evaluate", tmp_path, "--data", SHAKESPEARE)
    result = json.loads(out)
    # The unigram (context-free) cross-entropy of the validation text is 3.35 nats.
    assert result["nats_per_char"] < 2.8, result
    assert result["bits_per_char"] == pytest.approx(result["nats_per_char"] / np.log(2))
    arguments = ["generate", tmp_path, "--prompt", "ROMEO:", "--length", 80, "--temperature", 0.8, "--seed", 3]
    _, first, _ = run_cli(capsys, *arguments)
    _, second, _ = run_cli(capsys, *arguments)
    assert first == second and first.startswith("ROMEO:") and len(first.rstrip("\n")) == 86
    # Temperature 0 is greedy: the seed no longer matters.
    greedy = [run_cli(capsys, "generate", tmp_path, "--prompt", "ROMEO:", "--length", 40, "--temperature", 0,
                      "--seed", seed)[1] for seed in (1, 2)]
    assert greedy[0] == greedy[1] and greedy[0].startswith("ROMEO:")
    status, _, err = run_cli(capsys, "generate", tmp_path, "--prompt", "ROMEO:", "--temperature", -1)
    assert status == 2 and "`temperature` must be a finite number >= 0" in err


def test_stateful_training_resumes_after_an_interruption(tmp_path):
    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                raise KeyboardInterrupt

    options = dict(
        builder_options={"units": 32, "num_layers": 1},
        data_options={"stateful": True, "seq_len": 50},
        batch_size=16, max_examples=400, epochs=2, verbose=0,
    )
    with pytest.raises(KeyboardInterrupt):
        train("char_lm", SHAKESPEARE, str(tmp_path), callbacks=[Interrupt()], **options)
    assert (tmp_path / "backup").is_dir()
    metrics = train("char_lm", SHAKESPEARE, str(tmp_path), **options)
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history["loss"]) == 1  # only the second epoch was left to run
    # epochs.csv keeps the whole curve across the resume, each epoch once.
    from tools.zoo.publishing import validation_curve

    epochs_csv = (tmp_path / "epochs.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in epochs_csv[1:]] == ["0", "1"]
    curve = validation_curve(str(tmp_path), "val_loss")
    assert curve["metric"] == "val_loss" and curve["epochs"] == [1, 2] and len(curve["values"]) == 2 and curve["values"][1] == pytest.approx(
        history["val_loss"][0], rel=1e-5)
    assert metrics["epochs"] == 2
    model, spec = load_trained(str(tmp_path))
    assert spec["stateful"] is True and spec["batch_size"] == 16
    # The saved model is stateless, so any batch size works.
    assert model.predict(["To be"], verbose=0).shape == (1, 5, spec["vocab_size"])


class RuinValidation(keras.callbacks.Callback):
    """Scramble the weights before epoch `ruin_epoch`'s validation (a certain
    drop in its score) and, if asked, interrupt the run after epoch `interrupt_after`."""

    def __init__(self, ruin_epoch, interrupt_after=None):
        super().__init__()
        self.ruin_epoch, self.interrupt_after = ruin_epoch, interrupt_after

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_test_begin(self, logs=None):
        if self.epoch == self.ruin_epoch:
            for variable in self.model.trainable_variables:
                variable.assign(tf.random.normal(variable.shape, stddev=3.0))

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.interrupt_after:
            raise KeyboardInterrupt


def epochs_column(run_dir, name):
    """One column of a run's epochs.csv, as floats."""
    rows = (run_dir / "epochs.csv").read_text().splitlines()
    header = rows[0].split(",")
    return [float(row.split(",")[header.index(name)]) for row in rows[1:]]


def assert_saved_model_is_the_best_epoch(run_dir, metrics, accuracy):
    best = int(np.argmax(accuracy))
    assert metrics["best_epoch"] == best + 1 and metrics["val_accuracy"] == pytest.approx(accuracy[best])
    model, _ = load_trained(str(run_dir))
    dev = evaluate_on_data(model, os.path.join(EWT_DIR, "en_ewt-ud-dev.conllu"))
    assert dev["accuracy"] == pytest.approx(accuracy[best], abs=1e-6)


KEEP_BEST_OPTIONS = dict(
    builder_options={"units": 32, "embedding_dim": 32, "learning_rate": 0.01},
    epochs=3, max_examples=1000, verbose=0, keep_best=True,
)


def test_keep_best_saves_the_best_validation_epoch(tmp_path):
    # The last epoch is certainly the worst: keep_best must restore an earlier one.
    metrics = train("pos_tagger", EWT_DIR, str(tmp_path), callbacks=[RuinValidation(2)], **KEEP_BEST_OPTIONS)
    accuracy = json.loads((tmp_path / "history.json").read_text())["val_accuracy"]
    assert accuracy[2] < max(accuracy[:2]) - 0.2  # the ruin worked
    assert_saved_model_is_the_best_epoch(tmp_path, metrics, accuracy)


def test_keep_best_keeps_an_epoch_from_before_a_resume(tmp_path):
    # Run 1 stops after epoch 1; the resumed run's only epoch is ruined, so
    # the best epoch ran before the resume, in another process.
    with pytest.raises(KeyboardInterrupt):
        train("pos_tagger", EWT_DIR, str(tmp_path), callbacks=[RuinValidation(2, interrupt_after=1)],
              **KEEP_BEST_OPTIONS)
    assert (tmp_path / "best" / "best.weights.h5").is_file()
    metrics = train("pos_tagger", EWT_DIR, str(tmp_path), callbacks=[RuinValidation(2)], **KEEP_BEST_OPTIONS)
    accuracy = epochs_column(tmp_path, "val_accuracy")
    assert len(accuracy) == 3 and accuracy[2] < max(accuracy[:2]) - 0.2  # the ruin worked
    assert_saved_model_is_the_best_epoch(tmp_path, metrics, accuracy)
    assert not (tmp_path / "best").exists()  # the finished run leaves only its model


def test_learning_rate_halves_on_a_plateau_and_survives_a_resume(tmp_path):
    # Epoch 1's validation is ruined: a certain plateau, so the rate must
    # halve there; then the run is interrupted.
    options = dict(
        builder_options={"units": 16, "embedding_dim": 16, "learning_rate": 0.004},
        epochs=3, max_examples=300, verbose=0, learning_rate_patience=1,
    )
    with pytest.raises(KeyboardInterrupt):
        train("pos_tagger", EWT_DIR, str(tmp_path), callbacks=[RuinValidation(1, interrupt_after=1)], **options)
    train("pos_tagger", EWT_DIR, str(tmp_path), **options)
    rates = epochs_column(tmp_path, "learning_rate")
    # Each row logs the rate its epoch ran with. Epoch 1 halved it; the
    # resumed epoch 2 ran with the halved rate, read back from the checkpoint.
    assert rates == pytest.approx([0.004, 0.004, 0.002])


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["evaluate", "no/such/dir", "--data", SHAKESPEARE], "no/such/dir: no such file or folder"),
        (["predict", "sentiment-imdb-bigr", "fine"], "Did you mean 'sentiment-imdb-bigru'"),
        (["predict", "hf://owner-only", "fine"], "expected hf://OWNER/REPO"),
        (["train", "sentiment", "--data", "no/such/file.tar.gz", "--out", "{tmp}"], "IMDB data not found"),
        (["train", "pos_tagger", "--data", EWT_DIR, "--out", "{tmp}", "--cell", "lstm", "--dropout", "1.5"], "`dropout` must be a number in [0, 1)"),
        (["train", "char_lm", "--data", SHAKESPEARE, "--out", "{tmp}", "--bidirectional"], "must be causal"),
        (["train", "pos_tagger", "--data", EWT_DIR, "--out", "{tmp}", "--pooling", "max", "--max-length", "9"],
         "--max-length, --pooling: not an option of the pos_tagger task"),
        (["train", "char_lm", "--data", SHAKESPEARE, "--out", "{tmp}", "--word-dropout", "0.2"],
         "--word-dropout: not an option of the char_lm task"),
        (["train", "char_lm", "--data", SHAKESPEARE, "--out", "{tmp}", "--max-examples", "10"],
         "`max_examples` must be at least `batch_size` for the char LM"),
        (["train", "pos_tagger", "--data", EWT_DIR, "--out", "{tmp}", "--keep-best", "--patience", "0"],
         "`patience` must be a positive integer"),
        (["train", "pos_tagger", "--data", EWT_DIR, "--out", "{tmp}", "--learning-rate-patience", "1",
          "--learning-rate-factor", "1.5"], "`learning_rate_factor` must be a number in (0, 1)"),
        (["train", "pos_tagger", "--data", EWT_DIR, "--out", "{tmp}", "--learning-rate-patience", "0"],
         "`learning_rate_patience` must be a positive integer"),
    ],
)
def test_cli_user_errors_are_one_line_and_exit_2(tmp_path, capsys, arguments, message):
    status, _, err = run_cli(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in arguments])
    assert status == 2
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("task, data", [("sentiment", IMDB_TARBALL), ("pos_tagger", EWT_DIR), ("char_lm", SHAKESPEARE)])
def test_a_bad_builder_option_is_refused_before_the_data_is_read(tmp_path, monkeypatch, task, data):
    from kerasrnn.tasks.registry import get_task

    def refuse(*args, **kwargs):
        raise AssertionError("the data was read before the builder options were checked")

    monkeypatch.setattr(get_task(task).data(), "prepare", refuse)
    with pytest.raises(ValueError, match="`recurrent_dropout` must be a number in \\[0, 1\\)"):
        train(task, data, str(tmp_path / "run"), {"recurrent_dropout": 1.5})
    assert not os.path.exists(tmp_path / "run"), "a refused run must leave no folder behind"


@pytest.mark.parametrize("task", ["sentiment", "pos_tagger"])
def test_cli_option_shared_by_two_tasks_reaches_each_builder(tmp_path, capsys, monkeypatch, task):
    received = {}
    monkeypatch.setattr("kerasrnn.training.trainer.train", lambda *args, **kwargs: received.update(kwargs) or {})
    run_cli(capsys, "train", task, "--data", "unused", "--out", str(tmp_path), "--word-dropout", "0.2")
    assert received["builder_options"]["word_dropout"] == 0.2


def test_cli_rejects_unknown_tasks_and_predict_on_empty_text(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    wrong = subprocess.run(
        [sys.executable, "-m", "kerasrnn.cli", "train", "translation", "--data", "x", "--out", "y"],
        capture_output=True, text=True, env=env,
    )
    assert wrong.returncode == 2 and "invalid choice: 'translation'" in wrong.stderr
    helps = subprocess.run([sys.executable, "-m", "kerasrnn.cli", "generate", "--help"], capture_output=True, text=True)
    assert helps.returncode == 0 and "--temperature" in helps.stdout


def test_predict_rejects_empty_text_and_wrong_task(tmp_path, capsys, sentiment_dir):
    status, _, err = run_cli(capsys, "predict", sentiment_dir, "   ")
    assert status == 2 and "empty" in err
    status, _, err = run_cli(capsys, "generate", sentiment_dir, "--prompt", "A")
    assert status == 2 and "needs a CharLanguageModel" in err
    status, _, err = run_cli(capsys, "predict", "charlm-shakespeare-rnn", "ROMEO")
    assert status == 2 and "use `kerasrnn generate`" in err


def test_load_trained_in_a_fresh_process_registers_the_task_class(sentiment_dir):
    # `python -m tools.zoo publish` loads a run before anything imported the task packages (they load lazily).
    code = "from kerasrnn.training.trainer import load_trained; print(type(load_trained(%r)[0]).__name__)" % str(sentiment_dir)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.strip().splitlines()[-1] == "SentimentClassifier"


def test_corrupt_model_file_is_a_clear_error(tmp_path, capsys, sentiment_dir):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "spec.json").write_text((sentiment_dir / "spec.json").read_text())
    (broken / "model.keras").write_bytes((sentiment_dir / "model.keras").read_bytes()[:5000])
    status, _, err = run_cli(capsys, "predict", broken, "fine")
    assert status == 2 and "not a loadable kerasrnn model" in err


def test_tensorboard_logs_are_written(tmp_path, capsys):
    logs = tmp_path / "logs"
    status, _, err = run_cli(
        capsys, "train", "pos_tagger", "--data", EWT_DIR, "--out", tmp_path / "run", "--max-examples", 100,
        "--units", 8, "--embedding-dim", 8, "--tensorboard", logs,
    )
    assert status == 0, err
    for split in ("train", "validation"):
        assert any(name.startswith("events.out.tfevents") for name in os.listdir(logs / split))
