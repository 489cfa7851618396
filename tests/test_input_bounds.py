"""Every input a user sends is bounded and decoded in one line; every export folder problem is one line.

- A tagger sentence is at most `--max-sentence-tokens` tokens (default 1,000; EWT's longest has 159) and a
  review at most `--max-review-characters` characters (default 100,000; IMDB's longest has 14,282), in
  `evaluate`, `train` and `predict` and in the Python API: a longer one is refused in one line that gives the
  CoNLL-U sentence's first line, the review's file, or the argument (before: a 100,000-token sentence took
  `evaluate` 191 s and 6.6 GB).
- Bytes that are not UTF-8 (a data file, a review, a text argument) are one line naming the file or
  argument and the byte offset (before: "Error converting unicode string ..." or a codec error with neither).
- `kerasrnn export` into a read-only folder, onto a file or onto a full disk is one line, exit 2, and leaves
  nothing behind (before: tracebacks).

All with real data: EWT sentences whose blank lines were lost, IMDB reviews joined into one, real reviews and
sentences saved in Windows-1252, a real read-only mount and a real full tmpfs (skipped where this process
may not mount).
"""

import json
import os
import re
import subprocess
import sys
import tarfile

import pytest

from kerasrnn.cli import main
from kerasrnn.shared_data import EWT_TEST, IMDB_TARBALL, SHAKESPEARE
from kerasrnn.tasks.char_lm import CharLanguageModel, CharLanguageModelPreprocessor, build_char_lm
from kerasrnn.tasks.pos_tagger import PosTagger, PosTaggerPreprocessor, build_pos_tagger
from kerasrnn.tasks.sentiment import SentimentClassifier, SentimentPreprocessor, build_sentiment_classifier

SMALL = dict(cell="gru", units=4, embedding_dim=4)
# The 17 universal POS tags, all of which EWT uses.
UPOS = ["ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT", "SCONJ",
        "SYM", "VERB", "X"]
TINY_TRAINING = ["--units", "4", "--embedding-dim", "4", "--epochs", "1"]


def run_cli(capsys, *arguments):
    status = main([str(argument) for argument in arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line(status, out, err, verb, pattern):
    assert status == 2, err
    assert out == ""
    assert err.count("\n") == 1, err
    assert re.match(rf"kerasrnn {verb}: error: {pattern}", err), err


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Small untrained `.keras` models of each task, by task name."""
    folder = tmp_path_factory.mktemp("models")
    words = ["", "[UNK]", "the", "film", "."]
    characters = sorted(set("ROMEO: what light through yonder window breaks?\n"))
    built = {
        "pos_tagger": PosTagger(build_pos_tagger(len(words), len(UPOS), **SMALL), PosTaggerPreprocessor(words, UPOS)),
        "sentiment": SentimentClassifier(build_sentiment_classifier(len(words), **SMALL), SentimentPreprocessor(words)),
        "char_lm": CharLanguageModel(build_char_lm(len(characters) + 1, num_layers=1, **SMALL),
                                     CharLanguageModelPreprocessor(characters)),
    }
    paths = {}
    for task, model in built.items():
        paths[task] = str(folder / f"{task}.keras")
        model.save(paths[task])
    return paths


# -- real data, made into the inputs a user could send ---------------------------------------------------


def ewt_sentences():
    """EWT test's sentences as the lines of the file (comments included), one list per sentence."""
    with open(EWT_TEST, encoding="utf-8") as file:
        blocks = file.read().split("\n\n")
    return [block.split("\n") for block in blocks if block.strip()]


def word_count(lines):
    return sum(1 for line in lines if re.match(r"^[1-9]\d*\t", line))


def conllu_with_lost_blank_lines(path, intact=3, tokens=1_200):
    """EWT's first `intact` sentences, then sentences whose separating blank lines were lost: one "sentence"
    of more than `tokens` tokens. Returns its first line number and its token count."""
    sentences = ewt_sentences()
    lines = [line for sentence in sentences[:intact] for line in (*sentence, "")]
    first_line, merged = len(lines) + 1, []
    for sentence in sentences[intact:]:
        merged += sentence
        if word_count(merged) > tokens:
            break
    path.write_text("\n".join(lines + merged) + "\n\n", encoding="utf-8")
    return first_line, word_count(merged)


def ewt_words(count):
    words = [line.split("\t")[1] for sentence in ewt_sentences() for line in sentence if re.match(r"^[1-9]\d*\t", line)]
    return words[:count]


def imdb_reviews(count, split="test", label="neg"):
    """The first `count` real reviews of aclImdb/<split>/<label> in the tarball, as `(member name, bytes)`."""
    reviews = []
    with tarfile.open(IMDB_TARBALL, "r:gz") as archive:
        for member in archive:
            if member.isfile() and member.name.startswith(f"aclImdb/{split}/{label}/"):
                reviews.append((os.path.basename(member.name), archive.extractfile(member).read()))
                if len(reviews) == count:
                    break
    return reviews


def joined_reviews(characters):
    """Real IMDB reviews joined with blank lines until the text has more than `characters` characters."""
    texts, total = [], 0
    for _, data in imdb_reviews(400):
        texts.append(data.decode("utf-8"))
        total += len(texts[-1]) + 2
        if total > characters:
            return "\n\n".join(texts)
    raise AssertionError("not enough reviews")


def aclimdb_folder(root, split, reviews):
    """An aclImdb folder holding `reviews` (name → bytes) as <split>/neg reviews."""
    folder = root / "aclImdb" / split / "neg"
    folder.mkdir(parents=True)
    for name, data in reviews.items():
        (folder / name).write_bytes(data)
    return str(root / "aclImdb")


# -- tokens per tagger sentence --------------------------------------------------------------------------


def test_evaluate_refuses_a_sentence_over_the_token_limit_with_its_first_line(tmp_path, models, capsys):
    broken = tmp_path / "lost-blank-lines.conllu"
    first_line, tokens = conllu_with_lost_blank_lines(broken)
    assert tokens > 1_000
    status, out, err = run_cli(capsys, "evaluate", models["pos_tagger"], "--data", broken)
    assert_one_line(status, out, err, "evaluate", re.escape(f"{broken}:{first_line}: a sentence of more than 1000 tokens"))
    assert "--max-sentence-tokens" in err
    # Raised, the same file is scored (the bound is the user's to set).
    status, out, err = run_cli(capsys, "evaluate", models["pos_tagger"], "--data", broken, "--max-sentence-tokens", 2000)
    assert status == 0, err
    assert '"sentences": 4' in out and f'"tokens": {tokens + word_count(sum(ewt_sentences()[:3], []))}' in out


def test_a_lower_token_limit_refuses_the_first_longer_real_sentence(models, capsys):
    sentences = ewt_sentences()
    index = next(i for i, sentence in enumerate(sentences) if word_count(sentence) > 50)
    first_line = sum(len(sentence) + 1 for sentence in sentences[:index]) + 1
    status, out, err = run_cli(capsys, "evaluate", models["pos_tagger"], "--data", EWT_TEST, "--max-sentence-tokens", 50)
    assert_one_line(status, out, err, "evaluate", re.escape(f"{EWT_TEST}:{first_line}: a sentence of more than 50 tokens"))


def test_train_refuses_a_sentence_over_the_token_limit_before_training(tmp_path, capsys):
    broken = tmp_path / "lost-blank-lines.conllu"
    first_line, _ = conllu_with_lost_blank_lines(broken, intact=20)
    out_dir = tmp_path / "run"
    status, out, err = run_cli(capsys, "train", "pos_tagger", "--data", broken, "--out", out_dir, *TINY_TRAINING)
    assert_one_line(status, out, err, "train", re.escape(f"{broken}:{first_line}: a sentence of more than 1000 tokens"))
    assert not (out_dir / "model.keras").exists()


def test_predict_refuses_a_sentence_over_the_token_limit(models, capsys):
    text = " ".join(ewt_words(1_500))
    status, out, err = run_cli(capsys, "predict", models["pos_tagger"], text)
    assert_one_line(status, out, err, "predict", "TEXT: the sentence to tag has 1500 tokens, over the limit of 1000")
    assert "--max-sentence-tokens" in err
    # The bound is the user's to set (a lower one here: tagging a 1,500-token sentence takes 20 s on this tiny model).
    sentence = ewt_words(12)
    status, out, err = run_cli(capsys, "predict", models["pos_tagger"], " ".join(sentence), "--max-sentence-tokens", 10)
    assert_one_line(status, out, err, "predict", "TEXT: the sentence to tag has 12 tokens, over the limit of 10")
    status, out, err = run_cli(capsys, "predict", models["pos_tagger"], " ".join(sentence[:10]), "--max-sentence-tokens", 10)
    assert status == 0 and [word for word, _ in json.loads(out)] == sentence[:10], err


def test_the_tagger_api_refuses_a_long_sentence_unless_the_bound_is_raised(models):
    import keras

    model = keras.saving.load_model(models["pos_tagger"])
    words = ewt_words(1_001)
    with pytest.raises(ValueError, match=r"^The sentence to tag has 1001 tokens, over the limit of 1000"):
        model.predict_text(" ".join(words))
    with pytest.raises(ValueError, match=r"^Sentence 1 has 1001 tokens, over the limit of 1000 per sentence"):
        model.predict([words[:5], words], verbose=0)
    with pytest.raises(ValueError, match=r"^Sentence 0 has 1001 tokens"):
        model.evaluate([words], [["NOUN"] * len(words)], verbose=0)
    model.max_sentence_tokens = 5
    with pytest.raises(ValueError, match=r"^The sentence to tag has 6 tokens, over the limit of 5"):
        model.predict_text(" ".join(words[:6]))
    assert len(model.predict_text(" ".join(words[:5]))) == 5
    with pytest.raises(ValueError, match=r"^`max_sentence_tokens` must be a positive integer"):
        model.max_sentence_tokens = 0


# -- characters per review -------------------------------------------------------------------------------


def test_predict_refuses_a_review_over_the_character_limit(models, capsys):
    text = joined_reviews(100_000)
    status, out, err = run_cli(capsys, "predict", models["sentiment"], text)
    assert_one_line(status, out, err, "predict",
                    f"TEXT: the review has {len(text)} characters, over the limit of 100000 per review")
    assert "--max-review-characters" in err
    status, out, err = run_cli(capsys, "predict", models["sentiment"], text[:41], "--max-review-characters", 40)
    assert_one_line(status, out, err, "predict", "TEXT: the review has 41 characters, over the limit of 40 per review")
    status, out, err = run_cli(capsys, "predict", models["sentiment"], text[:40], "--max-review-characters", 40)
    assert status == 0 and '"label"' in out, err
    status, out, err = run_cli(capsys, "predict", models["pos_tagger"], text[:40], "--max-review-characters", 40)
    assert_one_line(status, out, err, "predict", "--max-review-characters: not an option of the pos_tagger task")


def test_evaluate_and_train_refuse_a_review_over_the_character_limit_naming_its_file(tmp_path, models, capsys):
    reviews = dict(imdb_reviews(8))
    reviews["99999_1.txt"] = joined_reviews(100_000).encode("utf-8")
    for split, verb in (("test", "evaluate"), ("train", "train")):
        data = aclimdb_folder(tmp_path / split, split, reviews)
        arguments = (["evaluate", models["sentiment"], "--data", data] if verb == "evaluate" else
                     ["train", "sentiment", "--data", data, "--out", tmp_path / "run", *TINY_TRAINING])
        status, out, err = run_cli(capsys, *arguments)
        assert_one_line(status, out, err, verb, re.escape(
            f"{data}: aclImdb/{split}/neg/99999_1.txt has {len(reviews['99999_1.txt'].decode())} characters, "
            "over the limit of 100000 per review"))
        assert "--max-review-characters" in err


def test_the_classifier_api_refuses_a_long_review(models):
    import keras

    model = keras.saving.load_model(models["sentiment"])
    text = joined_reviews(100_000)
    with pytest.raises(ValueError, match=rf"^The review has {len(text)} characters, over the limit of 100000"):
        model.predict_text(text)
    with pytest.raises(ValueError, match=rf"^Review 1 has {len(text)} characters, over the limit of 100000"):
        model.predict(["A fine film.", text], verbose=0)


# -- bytes that are not UTF-8 ----------------------------------------------------------------------------


def windows_1252_sentence_file(path, first):
    """EWT test with its sentence holding "I´m" saved in Windows-1252 (´ is byte 0xb4, not UTF-8); that
    sentence is moved to the front when `first`. Returns the byte offset and line of the 0xb4 byte."""
    sentences = ewt_sentences()
    index = next(i for i, sentence in enumerate(sentences) if any("I´m" in line for line in sentence))
    if first:
        sentences.insert(0, sentences.pop(index))
    raw = b"".join(("\n".join(sentence) + "\n\n").encode("cp1252" if any("I´m" in line for line in sentence) else "utf-8")
                   for sentence in sentences)
    path.write_bytes(raw)
    offset = raw.index(b"I\xb4m") + 1
    return offset, raw.count(b"\n", 0, offset) + 1


def test_a_conllu_file_not_in_utf8_is_one_line_with_the_byte_offset(tmp_path, models, capsys):
    path = tmp_path / "cp1252.conllu"
    offset, line = windows_1252_sentence_file(path, first=False)
    assert offset > 64 * 1024  # past the first bytes `kerasrnn` reads to tell the kind of a data set
    status, out, err = run_cli(capsys, "evaluate", models["pos_tagger"], "--data", path)
    assert_one_line(status, out, err, "evaluate",
                    re.escape(f"{path}:{line}: not valid UTF-8 at byte offset {offset} (invalid start byte)"))
    status, out, err = run_cli(capsys, "train", "pos_tagger", "--data", path, "--out", tmp_path / "run", *TINY_TRAINING)
    assert_one_line(status, out, err, "train", re.escape(f"{path}:{line}: not valid UTF-8 at byte offset {offset}"))


def test_a_data_file_not_in_utf8_from_its_first_bytes_is_one_line_with_the_byte_offset(tmp_path, models, capsys):
    path = tmp_path / "cp1252-first.conllu"
    offset, _ = windows_1252_sentence_file(path, first=True)
    status, out, err = run_cli(capsys, "evaluate", models["pos_tagger"], "--data", path)
    assert_one_line(status, out, err, "evaluate",
                    re.escape(f"--data: {str(path)!r} is not UTF-8 text (byte offset {offset}: invalid start byte)"))


def as_windows_1252(review):
    """`(name, the review saved in Windows-1252)`, or `(name, None)` if it is ASCII or has characters outside it."""
    name, data = review
    try:
        saved = data.decode("utf-8").encode("cp1252")
    except UnicodeEncodeError:
        return name, None
    return name, (saved if saved != data else None)


def test_a_review_not_in_utf8_is_one_line_naming_its_file_and_the_byte_offset(tmp_path, models, capsys):
    reviews = dict(imdb_reviews(400))
    name, raw = next((name, saved) for name, saved in map(as_windows_1252, reviews.items()) if saved)
    offset = next(i for i, byte in enumerate(raw) if byte >= 0x80)  # its first non-ASCII character
    data = aclimdb_folder(tmp_path, "test", dict(list(reviews.items())[:8]) | {name: raw})
    status, out, err = run_cli(capsys, "evaluate", models["sentiment"], "--data", data)
    assert_one_line(status, out, err, "evaluate",
                    re.escape(f"{data}: aclImdb/test/neg/{name}: not valid UTF-8 at byte offset {offset}"))


@pytest.mark.parametrize("task, verb", [("sentiment", "predict"), ("pos_tagger", "predict"), ("char_lm", "generate")])
def test_a_text_argument_not_in_utf8_is_one_line_with_the_byte_offset(models, capsys, task, verb):
    # Python hands a program the bytes of its arguments decoded with surrogateescape (os.fsdecode):
    # b"caf\xe9" (café in Latin-1) arrives as "caf\udce9".
    argument = os.fsdecode("The café .".encode("latin-1"))
    arguments = [verb, models[task], argument] if verb == "predict" else [verb, models[task], "--prompt", argument]
    status, out, err = run_cli(capsys, *arguments)
    name = "TEXT" if verb == "predict" else "--prompt"
    assert_one_line(status, out, err, verb, re.escape(f"{name}: not valid UTF-8 at byte offset 7 (invalid continuation byte)"))


def test_a_text_argument_not_in_utf8_from_a_real_command_line(models):
    finished = subprocess.run(
        [sys.executable, "-m", "kerasrnn.cli", "predict",
         models["sentiment"], "The café .".encode("latin-1")],
        capture_output=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300,
    )
    assert finished.returncode == 2, finished.stderr
    assert finished.stderr == b"kerasrnn predict: error: TEXT: not valid UTF-8 at byte offset 7 (invalid continuation byte)\n"


# -- export folders --------------------------------------------------------------------------------------


@pytest.fixture
def mounted(tmp_path):
    """Mount a real tmpfs of `size` at `tmp_path/<name>` (read-only if asked); skip where mounting is not permitted."""
    mounts = []

    def mount(name, size="2m", read_only=False, folders=()):
        folder = tmp_path / name
        folder.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                              capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})")
        mounts.append(folder)
        for inner in folders:
            (folder / inner).mkdir()
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        return folder

    yield mount
    for folder in reversed(mounts):
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_export_into_a_read_only_folder_is_one_line(mounted, models, capsys):
    # This process runs as root, for whom chmod does not make a folder read-only: a read-only mount does.
    read_only = mounted("read-only", read_only=True, folders=["imdb"])
    for base_path in (read_only / "imdb", read_only / "new" / "imdb"):
        status, out, err = run_cli(capsys, "export", models["sentiment"], "--base-path", base_path)
        assert_one_line(status, out, err, "export",
                        re.escape(f"--base-path: cannot write into {str(base_path)!r} (Read-only file system)"))
    assert os.listdir(read_only) == ["imdb"] and os.listdir(read_only / "imdb") == []


def test_export_onto_a_file_is_one_line(tmp_path, models, capsys):
    model = models["sentiment"]
    status, out, err = run_cli(capsys, "export", model, "--base-path", model)
    assert_one_line(status, out, err, "export", re.escape(f"--base-path: {model!r} is a file, not a folder"))
    status, out, err = run_cli(capsys, "export", model, "--base-path", os.path.join(model, "1"))
    assert_one_line(status, out, err, "export", re.escape(f"--base-path: {model!r} is a file, not a folder"))


def test_export_onto_a_full_disk_is_one_line_and_leaves_nothing(mounted, models, capsys):
    disk = mounted("disk", size="2m")
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as file:
        with pytest.raises(OSError):
            while True:
                file.write(b"\0" * 4096)
    status, out, err = run_cli(capsys, "export", models["sentiment"], "--base-path", disk / "imdb")
    assert_one_line(status, out, err, "export", re.escape(f"no space left on the device writing {disk / 'imdb'}"))
    assert "free some space and run the same command again" in err
    assert sorted(os.listdir(disk)) == ["filler", "imdb"] and os.listdir(disk / "imdb") == []
    filler.unlink()
    status, out, err = run_cli(capsys, "export", models["sentiment"], "--base-path", disk / "imdb")
    assert status == 0 and '"version": 1' in out, err


# -- characters per char LM prompt -----------------------------------------------------------------------


def test_generate_refuses_a_prompt_over_the_character_limit_in_one_line(capsys):
    # The first 10,001 characters of the real Tiny Shakespeare: every character known to the zoo's model.
    prompt = open(SHAKESPEARE, encoding="utf-8").read()[:10_001]
    assert main(["generate", "charlm-shakespeare-rnn", "--prompt", prompt, "--length", "5"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert "`prompt` has 10001 characters, over the limit of 10000" in err, err
    assert main(["generate", "charlm-shakespeare-rnn", "--prompt", prompt[:10_000], "--length", "5",
                 "--temperature", "0"]) == 0
    assert capsys.readouterr().out.startswith(prompt[:100])

