"""Pretrain a sentiment classifier's encoder as a language model on its own training reviews.

Dai & Le (2015) start a review classifier from a recurrent language model
trained on the reviews themselves: the embedding and the recurrent layer
first learn to predict words, then the whole network is fine-tuned on the
labels. Here the language model reuses the classifier network's own
embedding and recurrent layer objects, so when it has trained, the network
holds the pretrained weights and `kerasrnn.training.train` starts from them
(`initial_weights`). No outside text is read: only the training reviews,
and, given `unlabeled`, IMDB's 50,000 unlabeled reviews (`train/unsup/`),
which the data set provides for this use. The test reviews are never read.

Each run records in `pretraining.json` what it trained on (reviews and
tokens), every epoch's held-out sampled loss and wall time, and, once
finished, the held-out loss and perplexity over the full vocabulary: what
`python -m tools.zoo publish` puts in the zoo index.
"""

import json
import math
import os
import shutil

import keras
import tensorflow as tf

from kerasrnn.atomic_files import write_text
from kerasrnn.training.backup import AtomicBackupAndRestore
from kerasrnn.training.epoch_log import EpochLog
from kerasrnn.layers.sampled_language_model_loss import SampledLanguageModelLoss
from kerasrnn.optimizers import build_optimizer
from kerasrnn.tasks.task_model import length_bucketed_input
from kerasrnn.validation import check_positive_int, check_rate

ENCODER_WEIGHTS_FILE = "encoder.weights.h5"
RECORD_FILE = "pretraining.json"
EPOCHS_FILE = "epochs.csv"


def _recurrent_layers(network):
    # The layers between the embedding and the pooling: Keras RNNs, maybe inside Bidirectional.
    def is_recurrent(layer):
        return isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))

    return [layer for layer in network.layers if is_recurrent(layer)]


def language_model_of(network, num_sampled=512, dropout=0.0, seed=None):
    """A language model sharing `network`'s word dropout, embedding and recurrent layer.

    Args:
        network: a network from `build_sentiment_classifier` with one
            recurrent layer (a second bidirectional layer would let each
            direction see the words it must predict).
        num_sampled: negative words of the sampled softmax.
        dropout: dropout on the recurrent features before the softmax.
        seed: seed of the dropout and the sampler.

    Returns:
        An uncompiled `keras.Model` from word ids to its mean sampled loss
        per word; training it trains `network`'s layers.

    Example:

    >>> from kerasrnn.tasks.sentiment.builder import build_sentiment_classifier
    >>> network = build_sentiment_classifier(vocab_size=100, units=8, embedding_dim=8)
    >>> language_model = language_model_of(network, num_sampled=10)
    >>> language_model.get_layer("embedding") is network.get_layer("embedding")
    True
    """
    check_rate("dropout", dropout)
    recurrent = _recurrent_layers(network)
    if len(recurrent) != 1:
        raise ValueError(
            f"Language-model pretraining needs a network with one recurrent layer (num_layers=1); "
            f"{network.name!r} has {len(recurrent)}."
        )
    recurrent = recurrent[0]
    if not recurrent.return_sequences:
        raise ValueError(
            "Language-model pretraining needs every step's output: build the classifier with "
            f"pooling 'max' or 'mean', not 'last' ({recurrent.name!r} returns only its last state)."
        )
    embedding = network.get_layer("embedding")
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    words = token_ids
    if any(layer.name == "word_dropout" for layer in network.layers):
        words = network.get_layer("word_dropout")(words)
    hidden = recurrent(embedding(words))
    if dropout:
        hidden = keras.layers.Dropout(dropout, seed=seed, name="language_model_dropout")(hidden)
    loss = SampledLanguageModelLoss(
        embedding.input_dim,
        num_sampled=num_sampled,
        bidirectional=isinstance(recurrent, keras.layers.Bidirectional),
        seed=seed,
        name="sampled_language_model_loss",
    )([hidden, token_ids])
    return keras.Model(token_ids, loss, name=f"{network.name}_language_model")


def count_tokens(batches):
    """How many reviews and words (padding left out) a dataset of `(word_ids, labels)` batches holds.

    Args:
        batches: padded batches of word ids (0 is padding) and labels.

    Returns:
        `{"reviews": int, "tokens": int}`.

    Example:

    >>> import tensorflow as tf
    >>> batches = tf.data.Dataset.from_tensors(([[4, 5, 0], [6, 0, 0]], [0, 1]))
    >>> count_tokens(batches)
    {'reviews': 2, 'tokens': 3}
    """
    def add(counts, batch):
        word_ids = batch[0]
        return (counts[0] + tf.shape(word_ids, out_type=tf.int64)[0],
                counts[1] + tf.math.count_nonzero(word_ids, dtype=tf.int64))

    reviews, tokens = batches.reduce((tf.constant(0, tf.int64), tf.constant(0, tf.int64)), add)
    return {"reviews": int(reviews), "tokens": int(tokens)}


def full_softmax_loss(language_model, batches, chunk_size=2048):
    """The mean loss per predicted word over the whole vocabulary, in inference mode.

    Training's sampled softmax only estimates it; this is the loss whose
    exponential is the language model's perplexity. Each direction of a
    bidirectional model predicts its next word, as in training, and the
    mean is over both directions' predictions.

    Args:
        language_model: a model from `language_model_of`.
        batches: batches of `(word_ids, labels)` (labels are ignored).
        chunk_size: words scored at a time (memory: `chunk_size` x the vocabulary).

    Returns:
        The mean loss in nats (a float).

    Example:

    >>> import math, numpy as np, tensorflow as tf
    >>> from kerasrnn.tasks.sentiment.builder import build_sentiment_classifier
    >>> network = build_sentiment_classifier(vocab_size=50, units=4, embedding_dim=4)
    >>> language_model = language_model_of(network, num_sampled=5)
    >>> loss_layer = language_model.get_layer("sampled_language_model_loss")
    >>> _ = loss_layer.output_embedding.assign(np.zeros((50, 4), "float32"))  # every word equally likely
    >>> batches = tf.data.Dataset.from_tensors(([[4, 5, 6, 0]], [1]))
    >>> round(full_softmax_loss(language_model, batches), 4), round(math.log(50), 4)
    (3.912, 3.912)
    """
    chunk_size = check_positive_int("chunk_size", chunk_size)
    loss_layer = language_model.get_layer("sampled_language_model_loss")
    # The features the loss layer reads (after any dropout, inactive in inference).
    features = keras.Model(language_model.inputs, loss_layer.input[0])
    weights, biases = loss_layer.output_embedding, loss_layer.output_bias
    units = loss_layer.units

    @tf.function(reduce_retracing=True)
    def direction_total(hidden, targets):
        real = tf.not_equal(targets, 0)
        hidden, targets = tf.boolean_mask(hidden, real), tf.boolean_mask(targets, real)
        total = tf.constant(0.0, tf.float64)
        for start in tf.range(0, tf.shape(targets)[0], chunk_size):
            logits = tf.matmul(hidden[start:start + chunk_size], weights, transpose_b=True) + biases
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(targets[start:start + chunk_size], logits)
            total += tf.reduce_sum(tf.cast(losses, tf.float64))
        return total, tf.size(targets, out_type=tf.int64)

    total, count = 0.0, 0
    for word_ids, _ in batches:
        word_ids = tf.cast(word_ids, tf.int32)
        hidden = tf.cast(features(word_ids, training=False), "float32")
        parts = [(hidden[:, :-1, :units], word_ids[:, 1:])]
        if loss_layer.bidirectional:
            parts.append((hidden[:, 1:, units:], word_ids[:, :-1]))
        for direction_hidden, targets in parts:
            direction, words = direction_total(direction_hidden, targets)
            total, count = total + float(direction), count + int(words)
    if not count:
        raise ValueError("`batches` holds no word to predict (every review is shorter than two words).")
    return total / count


class PretrainingRecord(keras.callbacks.Callback):
    """Rewrite `pretraining.json` after every epoch from `epochs.csv` (so it spans resumed sessions).

    Runs after `EpochLog` (list it later), whose rows hold each epoch's
    losses and `epoch_seconds`.

    Args:
        out_dir: the pretraining folder.
        corpus: what the language model reads (see `pretrain_encoder`).
        settings: the pretraining's options, recorded as they are.

    Example:

    >>> import tempfile
    >>> out_dir = tempfile.mkdtemp()
    >>> record = PretrainingRecord(out_dir, {"train": {"reviews": 2, "tokens": 9}}, {"epochs": 1})
    >>> record.write()["epochs"], record.write()["finished"]
    ([], False)
    """

    def __init__(self, out_dir, corpus, settings):
        super().__init__()
        self.out_dir, self.corpus, self.settings = out_dir, corpus, settings

    def on_epoch_end(self, epoch, logs=None):
        self.write()

    def write(self, **final):
        import csv

        rows = []
        epochs_path = os.path.join(self.out_dir, EPOCHS_FILE)
        if os.path.exists(epochs_path):
            with open(epochs_path, newline="", encoding="utf-8") as file:
                rows = list(csv.DictReader(file))

        def number(row, key):
            return round(float(row[key]), 4) if row.get(key) else None

        epochs = [
            {"epoch": int(row["epoch"]) + 1, "train_sampled_loss": number(row, "loss"),
             "held_out_sampled_loss": number(row, "val_loss"), "seconds": number(row, "epoch_seconds")}
            for row in rows
        ]
        seconds = [epoch["seconds"] for epoch in epochs]
        record = {
            "corpus": self.corpus,
            "settings": self.settings,
            "epochs": epochs,
            "seconds": round(sum(seconds), 1) if seconds and None not in seconds else None,
            "finished": False,
            **final,
        }
        write_text(os.path.join(self.out_dir, RECORD_FILE), json.dumps(record, indent=2, sort_keys=True))
        return record


def read_record(out_dir):
    """The `pretraining.json` of a pretraining folder, or None when it has none.

    Example:

    >>> read_record("/nonexistent") is None
    True
    """
    path = os.path.join(out_dir, RECORD_FILE)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def _check_same_corpus(out_dir, corpus):
    # A resumed run must read the same reviews; its checkpoint would otherwise
    # continue on another corpus and the record would mix the two.
    record = read_record(out_dir)
    if record and record.get("corpus") != corpus:
        raise ValueError(
            f"{out_dir} holds a pretraining of another corpus ({record.get('corpus')}, now {corpus}): "
            "give the same data, unlabeled and data_options, or another out_dir."
        )


def pretrain_encoder(
    network,
    train,
    validation,
    out_dir,
    epochs=3,
    num_sampled=512,
    dropout=0.0,
    learning_rate=2e-3,
    clipnorm=1.0,
    seed=1337,
    verbose="auto",
    corpus=None,
):
    """Train `network`'s encoder as a language model; write its weights to `out_dir`.

    Resumable: a checkpoint is kept in `out_dir/backup` after each epoch and
    every epoch's losses and wall time are appended to `out_dir/epochs.csv`
    and summed up in `out_dir/pretraining.json` (see `PretrainingRecord`).
    When `out_dir/encoder.weights.h5` already exists, the pretraining is
    done: it is loaded into `network` and nothing trains.

    Args:
        network: the classifier network (see `language_model_of`).
        train: batches of `(word_ids, labels)` (labels are ignored).
        validation: the same, for the held-out loss.
        out_dir: where the checkpoint, curve, record and weights go.
        epochs: passes over the training reviews.
        num_sampled: negative words of the sampled softmax.
        dropout: dropout before the softmax.
        learning_rate: Adam's learning rate.
        clipnorm: clip each gradient to this norm (None: no clipping).
        seed: seeds dropout and the sampler.
        verbose: Keras' progress-bar setting.
        corpus: what `train` and `validation` are, recorded in
            `pretraining.json` beside the counts of reviews and tokens
            measured here (e.g. `{"train": {"unlabeled_reviews": 50000}}`).

    Returns:
        The path of the weights file of the whole `network` (encoder pretrained).

    Example:

    >>> path = pretrain_encoder(network, data.train, data.validation, "/tmp/pretrain")  # doctest: +SKIP
    """
    epochs = check_positive_int("epochs", epochs)
    weights_path = os.path.join(out_dir, ENCODER_WEIGHTS_FILE)
    if os.path.exists(weights_path):
        network.load_weights(weights_path)
        return weights_path
    corpus = dict(corpus or {})
    # One pass over each (cached) dataset: it counts the words and fills the cache the first epoch reads.
    for part, batches in (("train", train), ("held_out", validation)):
        corpus[part] = {**corpus.get(part, {}), **count_tokens(batches)}
    _check_same_corpus(out_dir, corpus)
    os.makedirs(out_dir, exist_ok=True)
    language_model = language_model_of(network, num_sampled=num_sampled, dropout=dropout, seed=seed)
    language_model.compile(optimizer=build_optimizer("adam", learning_rate=learning_rate, clipnorm=clipnorm))
    settings = {"epochs": epochs, "num_sampled": num_sampled, "dropout": dropout,
                "learning_rate": learning_rate, "clipnorm": clipnorm, "seed": seed}
    record = PretrainingRecord(out_dir, corpus, settings)
    if read_record(out_dir) is None:
        record.write()  # the corpus is on record from the start, for a resumed run to check

    backup_dir = os.path.join(out_dir, "backup")

    def words_only(word_ids, labels):
        return word_ids

    with length_bucketed_input():
        language_model.fit(
            train.map(words_only),
            validation_data=validation.map(words_only),
            epochs=epochs,
            shuffle=False,  # the batches come shuffled from the task's tf.data pipeline
            callbacks=[
                EpochLog(os.path.join(out_dir, EPOCHS_FILE)),
                record,  # after EpochLog: it reads the row EpochLog has just written
                # Last, as in `train`: the checkpoint says an epoch is done only once its row is
                # written. Written atomically (the last two kept), and kept when `fit` ends, so a
                # kill during the held-out loss below resumes with no epoch left to train.
                AtomicBackupAndRestore(backup_dir),
            ],
            verbose=verbose,
        )
    held_out_loss = full_softmax_loss(language_model, validation)
    record.write(finished=True, held_out_loss=round(held_out_loss, 4),
                 held_out_perplexity=round(math.exp(held_out_loss), 2))
    # Written last, atomically: its presence means the pretraining finished.
    network.save_weights(weights_path + ".tmp.weights.h5")
    os.replace(weights_path + ".tmp.weights.h5", weights_path)
    shutil.rmtree(backup_dir, ignore_errors=True)  # only now: the weights are safe
    return weights_path


def _read_unlabeled(unlabeled, max_examples):
    # IMDB's unlabeled reviews, or a one-line error naming the argument.
    from kerasrnn.data import imdb

    if not isinstance(unlabeled, (str, os.PathLike)):
        raise ValueError(f"`unlabeled` must be the path of IMDB's unlabeled reviews. Received: {unlabeled!r}")
    if not os.path.exists(unlabeled):
        raise ValueError(f"`unlabeled`: {unlabeled!r} does not exist; give aclImdb_v1_unsup.tar.gz or an aclImdb folder.")
    try:
        texts, _ = imdb.load_imdb(unlabeled, splits=("unsup",))["unsup"]
    except ValueError as error:
        raise ValueError(
            f"`unlabeled`: {unlabeled!r} holds no unlabeled reviews (aclImdb/train/unsup/<id>_0.txt), "
            f"such as aclImdb_v1_unsup.tar.gz holds ({error})."
        ) from None
    return texts[:max_examples] if max_examples else texts


def pretrain(data_path, out_dir, builder_options=None, data_options=None, batch_size=128, seed=1337,
             max_examples=None, verbose="auto", unlabeled=None, **options):
    """Prepare the training reviews as `kerasrnn.training.train` does and pretrain the encoder.

    The network is built from the same spec `train` builds (the vocabulary
    comes from the same labeled reviews and seed), so the returned weights
    file loads into the network `train` builds as its `initial_weights`.
    The language model trains on the labeled training reviews, plus the
    unlabeled reviews when `unlabeled` is given (vectorized with the same
    vocabulary and `max_length`, batched by length the same way), and is
    scored on the reviews that validate the classifier, which it never
    trains on. The test reviews are never read.

    Args:
        data_path: the aclImdb folder or tarball.
        out_dir: where the pretraining's files go.
        builder_options: the classifier's builder arguments.
        data_options: arguments of `kerasrnn.tasks.sentiment.data.prepare`.
        batch_size: reviews per batch.
        seed: the data split, shuffle and weight seed, as in `train`.
        max_examples: pretrain on a subset, for quick trials (at most this
            many labeled and this many unlabeled reviews).
        verbose: Keras' progress-bar setting.
        unlabeled: IMDB's unlabeled reviews (`aclImdb_v1_unsup.tar.gz`, the
            official `aclImdb_v1.tar.gz` or an extracted folder holding
            `aclImdb/train/unsup/`), to train the language model on too.
        **options: arguments of `pretrain_encoder` (`epochs`, `num_sampled`,
            `dropout`, `learning_rate`, `clipnorm`).

    Returns:
        The path of the network's weights file.

    Example:

    >>> pretrain("../shared/data/aclImdb_v1_labeled.tar.gz", "/tmp/pretrain",
    ...          {"cell": "gru", "units": 16}, {"vocab_size": 5000}, max_examples=200,
    ...          unlabeled="../shared/data/aclImdb_v1_unsup.tar.gz")  # doctest: +SKIP
    """
    from kerasrnn.data.length_buckets import bucketed_batches
    from kerasrnn.tasks.model_spec import build_from_spec, check_builder_options
    from kerasrnn.tasks.sentiment import data as sentiment_data

    check_builder_options("sentiment", builder_options)  # before the reviews are read, as in `train`
    # The unlabeled reviews first: a wrong archive is refused before the long steps.
    unlabeled_texts = _read_unlabeled(unlabeled, max_examples) if unlabeled is not None else []
    keras.utils.set_random_seed(seed)
    data = sentiment_data.prepare(data_path, batch_size=batch_size, max_examples=max_examples, seed=seed,
                                  **(data_options or {}))
    network = build_from_spec({"task": "sentiment", **(builder_options or {}), **data.spec_arguments})
    corpus = {"train": {"labeled_reviews": data.train_examples, "unlabeled_reviews": len(unlabeled_texts)},
              "vocab_size": data.spec_arguments["vocab_size"], "max_length": data.preprocessor.max_length}
    train = data.train
    if unlabeled_texts:
        # The classifier's own training reviews (never its validation ones) and the unlabeled
        # ones, through its preprocessor: the same vocabulary and cut, batched by length alike.
        # With the bound on a review's length `prepare` was given (--max-review-characters).
        limit = {key: value for key, value in (data_options or {}).items() if key == "max_review_characters"}
        (train_texts, _), _ = sentiment_data.training_reviews(data_path, max_examples, seed, **limit)
        texts = list(train_texts) + list(unlabeled_texts)
        examples = sentiment_data.review_examples(data.preprocessor, texts, **limit).map(lambda word_ids: (word_ids, 0))
        train = bucketed_batches(examples.cache(), batch_size, shuffle_buffer=len(texts), seed=seed)
    return pretrain_encoder(network, train, data.validation, out_dir, seed=seed, verbose=verbose, corpus=corpus,
                            **options)
