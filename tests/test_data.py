"""Loaders on the real shared files: exact counts, formats, batching, bad input."""

import contextlib
import functools
import http.server
import os
import shutil
import tarfile
import threading

import numpy as np
import pytest
import tensorflow as tf

from conftest import EWT_DIR, IMDB_TARBALL, SHAKESPEARE
from kerasrnn.data import (
    bucketed_batches,
    download_imdb,
    download_tiny_shakespeare,
    geometric_boundaries,
    load_imdb,
    read_conllu,
    read_text,
    split_text,
    split_validation,
    tbptt_dataset,
)


@pytest.fixture(scope="module")
def imdb():
    return load_imdb(IMDB_TARBALL)


def test_imdb_tarball_has_the_official_split(imdb):
    for split in ("train", "test"):
        texts, labels = imdb[split]
        assert len(texts) == 25000
        assert labels.sum() == 12500  # 12,500 positive and 12,500 negative reviews
    assert "<br />" in " ".join(imdb["train"][0][:200])  # raw text, as published


def test_imdb_folder_reads_like_the_tarball(tmp_path, imdb):
    with tarfile.open(IMDB_TARBALL) as archive:
        members = [m for m in archive if m.isfile() and "/test/" in m.name][:40]
        for member in members:
            target = tmp_path / member.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.extractfile(member).read())
    texts, labels = load_imdb(str(tmp_path / "aclImdb"), splits=("test",))["test"]
    assert len(texts) == len(members)
    assert set(texts) <= set(imdb["test"][0])
    same_parent = load_imdb(str(tmp_path), splits=("test",))["test"]
    assert same_parent[0] == texts and np.array_equal(same_parent[1], labels)


def test_validation_split_is_seeded_and_disjoint(imdb):
    texts, labels = imdb["train"]
    (train, _), (held, held_labels) = split_validation(texts, labels, 0.1, seed=7)
    (train_again, _), (held_again, _) = split_validation(texts, labels, 0.1, seed=7)
    assert len(train) == 22500 and len(held) == 2500
    assert held == held_again and train == train_again
    assert sorted(held + train) == sorted(texts)  # a partition: nothing lost or repeated
    assert 0.4 < held_labels.mean() < 0.6


def test_corrupt_or_missing_imdb_is_a_clear_error(tmp_path):
    truncated = tmp_path / "aclImdb_v1.tar.gz"
    with open(IMDB_TARBALL, "rb") as source:
        truncated.write_bytes(source.read(1_000_000))
    with pytest.raises(ValueError, match="not a readable aclImdb tar archive"):
        load_imdb(str(truncated))
    with pytest.raises(FileNotFoundError, match="IMDB data not found"):
        load_imdb(str(tmp_path / "missing.tar.gz"))
    with pytest.raises(ValueError, match="may contain only 'train', 'test' and 'unsup'. Received: 'validation'"):
        load_imdb(IMDB_TARBALL, splits=("validation",))
    with pytest.raises(ValueError, match="must be a tuple of split names, e.g. \\('train',\\)"):
        load_imdb(IMDB_TARBALL, splits="train")
    # The labeled archive has no unlabeled reviews: say where they were looked for.
    with pytest.raises(ValueError, match="no reviews found under aclImdb/train/unsup"):
        load_imdb(IMDB_TARBALL, splits=("unsup",))
    with pytest.raises(ValueError, match="`seed` must be None or an integer"):
        load_imdb(IMDB_TARBALL, seed="0")


@contextlib.contextmanager
def loopback_mirror(tmp_path, source, name):
    """Serve a copy of a real data file from a loopback HTTP server; yield its URL."""
    served = tmp_path / "mirror"
    served.mkdir()
    shutil.copy(source, served / name)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{name}"
    finally:
        server.shutdown()


def test_download_imdb_fetches_through_keras_get_file(tmp_path):
    """The real download path, served from a loopback HTTP server."""
    with loopback_mirror(tmp_path, IMDB_TARBALL, "aclImdb_v1.tar.gz") as origin:
        path = download_imdb(cache_dir=str(tmp_path / "cache"), origin=origin)
    assert os.path.getsize(path) == os.path.getsize(IMDB_TARBALL)
    assert len(load_imdb(path, splits=("test",))["test"][0]) == 25000


@pytest.mark.parametrize("split, sentences, tokens", [("train", 12544, 204577), ("dev", 2001, 25147), ("test", 2077, 25094)])
def test_ewt_sentence_and_token_counts(split, sentences, tokens):
    data = read_conllu(os.path.join(EWT_DIR, f"en_ewt-ud-{split}.conllu"))
    assert len(data) == sentences
    assert sum(len(words) for words, _ in data) == tokens
    assert all(len(words) == len(tags) for words, tags in data)


def test_conllu_skips_multiword_tokens_and_empty_nodes():
    dev = read_conllu(os.path.join(EWT_DIR, "en_ewt-ud-dev.conllu"))
    today = next(s for s in dev if s[0][:3] == ["Today", "'s", "incident"])
    assert "Today's" not in today[0]
    assert today[1][:3] == ["NOUN", "PART", "NOUN"]
    tags = {tag for _, sentence_tags in dev for tag in sentence_tags}
    assert len(tags) == 17  # the UPOS tag set, no "_" from empty nodes
    xpos = read_conllu(os.path.join(EWT_DIR, "en_ewt-ud-dev.conllu"), tag_column="xpos")
    assert next(s for s in xpos if s[0][:3] == ["Today", "'s", "incident"])[1][:2] == ["NN", "POS"]


def test_malformed_conllu_names_file_and_line(tmp_path):
    with open(os.path.join(EWT_DIR, "en_ewt-ud-dev.conllu"), encoding="utf-8") as file:
        lines = file.read().splitlines()[:40]
    broken = list(lines)
    broken[10] = broken[10].replace("\t", " ", 2)
    path = tmp_path / "broken.conllu"
    path.write_text("\n".join(broken) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken.conllu:11: expected 10 tab-separated"):
        read_conllu(str(path))
    bad_id = list(lines)
    bad_id[10] = "x" + bad_id[10]
    path.write_text("\n".join(bad_id) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken.conllu:11: invalid token ID"):
        read_conllu(str(path))
    path.write_text("# only a comment\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no sentences found"):
        read_conllu(str(path))
    with pytest.raises(ValueError, match="`tag_column` must be 'upos' or 'xpos'"):
        read_conllu(os.path.join(EWT_DIR, "en_ewt-ud-dev.conllu"), tag_column="deprel")


def test_tiny_shakespeare_and_its_split():
    text = read_text(SHAKESPEARE)
    assert len(text) == 1115394 and len(set(text)) == 65
    train, validation = split_text(text)
    assert train + validation == text
    assert len(train) == 1003854  # the first 90% of characters


def test_bad_text_files_are_reported_with_the_offset(tmp_path):
    raw = open(SHAKESPEARE, "rb").read()[:5000]
    path = tmp_path / "bad.txt"
    path.write_bytes(raw[:1234] + b"\xff" + raw[1234:])
    with pytest.raises(ValueError, match="not valid UTF-8 at byte offset 1234"):
        read_text(str(path))
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="the text file is empty"):
        read_text(str(path))


def test_tbptt_streams_continue_across_batches_with_shifted_targets():
    ids = np.frombuffer(open(SHAKESPEARE, "rb").read()[:20001], dtype=np.uint8).astype("int32")
    batches = list(tbptt_dataset(ids, batch_size=4, seq_len=50).as_numpy_iterator())
    stream_length = (len(ids) - 1) // 4
    assert len(batches) == stream_length // 50
    inputs = np.concatenate([x for x, _ in batches], axis=1)
    targets = np.concatenate([y for _, y in batches], axis=1)
    for row in range(4):
        start = row * stream_length
        np.testing.assert_array_equal(inputs[row], ids[start : start + inputs.shape[1]])
        np.testing.assert_array_equal(targets[row], ids[start + 1 : start + 1 + inputs.shape[1]])
    with pytest.raises(ValueError, match="too short"):
        tbptt_dataset(ids[:100], batch_size=4, seq_len=50)


def test_bucketing_groups_by_length_and_keeps_every_sentence():
    sentences = read_conllu(os.path.join(EWT_DIR, "en_ewt-ud-dev.conllu"))
    lengths = [len(words) for words, _ in sentences]
    dataset = tf.data.Dataset.from_generator(
        lambda: ((np.ones(n, "int32"), np.ones(n, "int32")) for n in lengths),
        output_signature=(tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.int32)),
    )
    seen, padding = [], 0
    for ids, tags in bucketed_batches(dataset, batch_size=32, boundaries=(8, 16, 32, 64)):
        assert ids.shape == tags.shape
        real = ids.numpy().sum(axis=1)
        seen.extend(real.tolist())
        padding += ids.numpy().size - real.sum()
    assert sorted(seen) == sorted(lengths)
    # Padding to the longest sentence of the whole set would waste far more.
    assert padding < 0.25 * (len(lengths) * max(lengths) - sum(lengths))


def _real_share_of_padded_steps(lengths, boundaries, batch_size):
    dataset = tf.data.Dataset.from_generator(
        lambda: ((np.ones(n, "int32"), 0) for n in lengths),
        output_signature=(tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32)),
    )
    real = padded = 0
    for ids, _ in bucketed_batches(dataset, batch_size, boundaries=boundaries, shuffle_buffer=len(lengths), seed=0):
        real += int(ids.numpy().sum())
        padded += ids.numpy().size
    assert real == sum(lengths)  # every review is batched once
    return real / padded


def test_default_buckets_keep_imdb_padding_small(imdb):
    """Real reviews cut to 400 tokens, as the sentiment defaults cut them."""
    lengths = [min(len(text.split()), 400) for text in imdb["train"][0][:4000]]
    default = _real_share_of_padded_steps(lengths, geometric_boundaries(), batch_size=128)
    power_of_two = _real_share_of_padded_steps(lengths, (16, 32, 64, 128, 256, 512), batch_size=128)
    assert default > 0.9 > 0.85 > power_of_two


def test_default_buckets_keep_ewt_padding_small():
    lengths = [len(words) for words, _ in read_conllu(os.path.join(EWT_DIR, "en_ewt-ud-dev.conllu"))]
    default = _real_share_of_padded_steps(lengths, geometric_boundaries(), batch_size=32)
    power_of_two = _real_share_of_padded_steps(lengths, (16, 32, 64, 128, 256, 512), batch_size=32)
    assert default > 0.85 > 0.75 > power_of_two


def test_geometric_boundaries_grow_by_the_asked_fraction():
    edges = geometric_boundaries(smallest=10, largest=3000, growth=1.25, multiple=4)
    assert edges[0] == 12 and edges[-1] >= 3000 and edges[-2] < 3000
    assert all(edge % 4 == 0 for edge in edges)
    for before, after in zip(edges, edges[1:]):
        assert after >= before * 1.25 and after - before >= 4
        assert after < before * 1.25 + 4  # the smallest multiple of 4 that grows enough


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"growth": 1.0}, "`growth` must be a number above 1"),
        ({"growth": "fast"}, "`growth` must be a number above 1"),
        ({"smallest": 0}, "smallest"),
        ({"multiple": -8}, "multiple"),
        ({"smallest": 64, "largest": 8}, "`largest` \\(8\\) must be at least `smallest` \\(64\\)"),
    ],
)
def test_geometric_boundaries_name_the_bad_argument(arguments, message):
    with pytest.raises(ValueError, match=message):
        geometric_boundaries(**arguments)


def test_download_tiny_shakespeare_through_keras_get_file(tmp_path):
    """The real download path, from a loopback HTTP server serving the real file."""
    with loopback_mirror(tmp_path, SHAKESPEARE, "input.txt") as origin:
        path = download_tiny_shakespeare(cache_dir=str(tmp_path / "cache"), origin=origin)
    assert read_text(path) == read_text(SHAKESPEARE)
