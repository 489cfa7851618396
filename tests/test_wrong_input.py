"""A new user's first hour: wrong input is refused in one line (exit 2), and long waits are not silent.

- `kerasrnn evaluate`, `kerasrnn zoo evaluate` and `kerasrnn train` refuse a
  data set of the wrong kind for the task (a CoNLL-U file for the char LM,
  text for the tagger, ...) before reading it.
- `kerasrnn evaluate` prints only its JSON line on stdout; its progress bar
  goes to stderr, and only when stderr is a terminal.
- `kerasrnn diagnose` without matplotlib stops at once, saying what to install.
"""

import json
import os
import pty
import subprocess
import sys
import threading
import time

import pytest

from kerasrnn.cli import main
from kerasrnn.shared_data import EWT_TEST, IMDB_TARBALL, SHAKESPEARE
from kerasrnn.tasks.char_lm import CharLanguageModel, CharLanguageModelPreprocessor, build_char_lm
from kerasrnn.tasks.pos_tagger import PosTagger, PosTaggerPreprocessor, build_pos_tagger
from kerasrnn.tasks.sentiment import SentimentClassifier, SentimentPreprocessor, build_sentiment_classifier

SMALL = dict(cell="gru", units=4, embedding_dim=4)
# One zoo model per task, the smallest of each.
ZOO_MODELS = {"char_lm": "charlm-shakespeare-rnn", "pos_tagger": "pos-ewt-birnn", "sentiment": "sentiment-imdb-birnn"}
WRONG_DATA = [
    ("char_lm", EWT_TEST, "a CoNLL-U treebank"),
    ("char_lm", IMDB_TARBALL, "a compressed or tar archive"),
    ("pos_tagger", SHAKESPEARE, "a plain text file"),
    ("pos_tagger", IMDB_TARBALL, "a compressed or tar archive"),
    ("sentiment", EWT_TEST, "a CoNLL-U treebank"),
    ("sentiment", SHAKESPEARE, "a plain text file"),
]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """A small untrained `.keras` task model of each task, by task name."""
    folder = tmp_path_factory.mktemp("tiny_models")
    words = ["", "[UNK]", "the", "film"]
    characters = sorted(set("ROMEO: what light through yonder window breaks?\n"))
    models = {
        "char_lm": CharLanguageModel(build_char_lm(len(characters) + 1, num_layers=1, **SMALL),
                                     CharLanguageModelPreprocessor(characters)),
        "pos_tagger": PosTagger(build_pos_tagger(len(words), 2, **SMALL), PosTaggerPreprocessor(words, ["DET", "NOUN"])),
        "sentiment": SentimentClassifier(build_sentiment_classifier(len(words), **SMALL), SentimentPreprocessor(words)),
    }
    paths = {}
    for task, model in models.items():
        paths[task] = str(folder / f"{task}.keras")
        model.save(paths[task])
    return paths


def assert_refused(capsys, status, verb, data, kind, task):
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(f"kerasrnn {verb}: error: --data: {data!r} is {kind}"), err
    assert f"the {task} task reads" in err, err


@pytest.mark.parametrize("task, data, kind", WRONG_DATA)
def test_evaluate_refuses_data_of_the_wrong_kind(tiny_models, capsys, task, data, kind):
    status = main(["evaluate", tiny_models[task], "--data", data])
    assert_refused(capsys, status, "evaluate", data, kind, task)


@pytest.mark.parametrize("task, data, kind", WRONG_DATA)
def test_zoo_evaluate_refuses_data_of_the_wrong_kind(capsys, task, data, kind):
    status = main(["zoo", "evaluate", ZOO_MODELS[task], "--data", data])
    assert_refused(capsys, status, "zoo", data, kind, task)


@pytest.mark.parametrize("task, data, kind", WRONG_DATA)
def test_train_refuses_data_of_the_wrong_kind(tmp_path, capsys, task, data, kind):
    status = main(["train", task, "--data", data, "--out", str(tmp_path / "run"), "--max-examples", "64"])
    assert_refused(capsys, status, "train", data, kind, task)


def test_a_text_with_a_conllu_name_or_a_folder_of_neither_is_refused(tmp_path, tiny_models, capsys):
    named = tmp_path / "notes.conllu"
    named.write_text("Some prose, not a treebank.\n")
    assert main(["evaluate", tiny_models["char_lm"], "--data", str(named)]) == 2
    assert "is a CoNLL-U treebank" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["evaluate", tiny_models["pos_tagger"], "--data", str(tmp_path / "empty")]) == 2
    assert "is a folder with neither aclImdb/ nor *.conllu files in it" in capsys.readouterr().err


def test_training_on_a_conllu_file_of_one_real_sentence_is_one_line(tmp_path, capsys):
    # The first sentence of the real EWT test file, as a single-file treebank:
    # its 90/10 split used to leave no training sentence (a TensorFlow traceback).
    first_sentence = open(EWT_TEST, encoding="utf-8").read().split("\n\n")[0] + "\n\n"
    data = tmp_path / "one.conllu"
    data.write_text(first_sentence, encoding="utf-8")
    status = main(["train", "pos_tagger", "--data", str(data), "--out", str(tmp_path / "run")])
    out, err = capsys.readouterr()
    assert status == 2 and out == "" and err.count("\n") == 1, err
    assert "holds 1 sentence(s)" in err and "needs at least 2" in err, err
    assert not (tmp_path / "run").exists()


def run_evaluate(model_path, data_path, stderr_on_a_terminal):
    """`kerasrnn evaluate` in a fresh process, stdout piped; stderr piped or on a pseudo-terminal."""
    command = [sys.executable, "-c", "import sys; from kerasrnn.cli import main; sys.exit(main())",
               "evaluate", model_path, "--data", data_path]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if not stderr_on_a_terminal:
        finished = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
        return finished.returncode, finished.stdout, finished.stderr
    controller, terminal = pty.openpty()
    chunks = []

    def drain():  # a full pseudo-terminal would block the child
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the child closed its end
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        finished = subprocess.run(command, stdout=subprocess.PIPE, stderr=terminal, text=True, env=environment,
                                  timeout=300)
    finally:
        os.close(terminal)
        reader.join(timeout=10)
        os.close(controller)
    return finished.returncode, finished.stdout, b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture(scope="module")
def small_text(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "small.txt"
    with open(SHAKESPEARE, encoding="utf-8") as file:
        path.write_text(file.read(20_000), encoding="utf-8")  # its last 10%, 2,000 characters, is scored
    return str(path)


def test_evaluate_in_a_pipe_prints_only_the_json_line(tiny_models, small_text):
    status, out, err = run_evaluate(tiny_models["char_lm"], small_text, stderr_on_a_terminal=False)
    assert status == 0, err
    lines = out.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["task"] == "char_lm"
    assert "step" not in err and "reading" not in err, err


def test_evaluate_on_a_terminal_shows_a_progress_bar_on_stderr_only(tiny_models, small_text):
    status, out, err = run_evaluate(tiny_models["char_lm"], small_text, stderr_on_a_terminal=True)
    assert status == 0, err
    lines = out.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["task"] == "char_lm", out
    assert "kerasrnn: reading the char_lm evaluation data from" in err
    assert "step" in err, err  # Keras' progress bar: "8/8 ━━━━ 0s 3ms/step - loss: ..."


def test_diagnose_without_matplotlib_stops_at_once_saying_what_to_install(tmp_path):
    shim = tmp_path / "no_matplotlib" / "matplotlib"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text('raise ImportError("No module named \'matplotlib\' (test shim)")\n')
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
                   "PYTHONPATH": os.pathsep.join([str(tmp_path / "no_matplotlib"), os.environ.get("PYTHONPATH", "")])}
    started = time.monotonic()
    finished = subprocess.run(
        [sys.executable, "-c", "import sys; from kerasrnn.cli import main; sys.exit(main())",
         "diagnose", "--data", SHAKESPEARE, "--out", str(tmp_path / "report")],
        capture_output=True, text=True, env=environment, timeout=300,
    )
    assert finished.returncode == 2, finished.stderr
    assert finished.stdout == ""
    assert finished.stderr.count("\n") == 1, finished.stderr
    assert finished.stderr.startswith("kerasrnn diagnose: error: ")
    assert 'pip install "kerasrnn[diagnostics]"' in finished.stderr
    assert not (tmp_path / "report").exists()
    # Before any measuring: the process starts, imports TensorFlow and stops (was: 2 minutes, then a traceback).
    assert time.monotonic() - started < 60


def test_zoo_info_says_which_figures_zoo_evaluate_reproduces(capsys):
    # The curve's last val_loss (1.6052, training's 64 streams of 100 characters) is not metrics' loss (1.6020,
    # `zoo evaluate`'s 8 streams of 512): the entry says which is which.
    assert main(["zoo", "info", "charlm-shakespeare-rnn"]) == 0
    entry = json.loads(capsys.readouterr().out)
    assert round(entry["validation_curve"]["values"][-1], 4) == 1.6052 and round(entry["metrics"]["loss"], 4) == 1.6020
    assert entry["metrics_measured_by"].startswith(
        "kerasrnn zoo evaluate charlm-shakespeare-rnn --data SHARED_DATA/tinyshakespeare/input.txt: ")
    assert "reproduces these figures" in entry["metrics_measured_by"]
    curve_note = entry["validation_curve"]["measured_by"]
    assert curve_note.startswith("training's validation pass") and "batch_size 64, seq_len 100" in curve_note
    assert "not the figures of metrics" in curve_note
