"""Readers for the real data sets in their native formats, and tf.data pipelines."""

from kerasrnn.data.length_buckets import bucketed_batches, geometric_boundaries
from kerasrnn.data.conllu import read_conllu
from kerasrnn.data.imdb import download_imdb, load_imdb, load_imdb_from_tfds, split_validation
from kerasrnn.data.text import (
    download_tiny_shakespeare,
    load_text_from_tfds,
    read_text,
    split_text,
    tbptt_dataset,
)

__all__ = [
    "bucketed_batches",
    "download_imdb",
    "download_tiny_shakespeare",
    "geometric_boundaries",
    "load_imdb",
    "load_imdb_from_tfds",
    "load_text_from_tfds",
    "read_conllu",
    "read_text",
    "split_text",
    "split_validation",
    "tbptt_dataset",
]
