"""Pretrain a sentiment classifier's encoder as a language model on its own training reviews.

Dai & Le (2015) start a review classifier from a recurrent language model
trained on the reviews themselves: the embedding and the recurrent layer
first learn to predict words, then the whole network is fine-tuned on the
labels. Here the language model reuses the classifier network's own
embedding and recurrent layer objects, so when it has trained, the network
holds the pretrained weights and `kerasrnn.training.train` starts from them
(`initial_weights`). No outside text is read: only the training reviews.
"""

import os

import keras

from kerasrnn.epoch_log import EpochLog
from kerasrnn.layers.sampled_language_model_loss import SampledLanguageModelLoss
from kerasrnn.optimizers import build_optimizer
from kerasrnn.tasks.task_model import length_bucketed_input
from kerasrnn.validation import check_positive_int, check_rate

ENCODER_WEIGHTS_FILE = "encoder.weights.h5"


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
):
    """Train `network`'s encoder as a language model; write its weights to `out_dir`.

    Resumable: a checkpoint is kept in `out_dir/backup` after each epoch and
    every epoch's losses are appended to `out_dir/epochs.csv`. When
    `out_dir/encoder.weights.h5` already exists, the pretraining is done:
    it is loaded into `network` and nothing trains.

    Args:
        network: the classifier network (see `language_model_of`).
        train: batches of `(word_ids, labels)` (labels are ignored).
        validation: the same, for the validation loss.
        out_dir: where the checkpoint, curve and weights go.
        epochs: passes over the training reviews.
        num_sampled: negative words of the sampled softmax.
        dropout: dropout before the softmax.
        learning_rate: Adam's learning rate.
        clipnorm: clip each gradient to this norm (None: no clipping).
        seed: seeds dropout and the sampler.
        verbose: Keras' progress-bar setting.

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
    os.makedirs(out_dir, exist_ok=True)
    language_model = language_model_of(network, num_sampled=num_sampled, dropout=dropout, seed=seed)
    language_model.compile(optimizer=build_optimizer("adam", learning_rate=learning_rate, clipnorm=clipnorm))

    def words_only(word_ids, labels):
        return word_ids

    with length_bucketed_input():
        language_model.fit(
            train.map(words_only),
            validation_data=validation.map(words_only),
            epochs=epochs,
            shuffle=False,  # the batches come shuffled from the task's tf.data pipeline
            callbacks=[
                keras.callbacks.BackupAndRestore(os.path.join(out_dir, "backup")),
                EpochLog(os.path.join(out_dir, "epochs.csv")),
            ],
            verbose=verbose,
        )
    # Written last, atomically: its presence means the pretraining finished.
    network.save_weights(weights_path + ".tmp.weights.h5")
    os.replace(weights_path + ".tmp.weights.h5", weights_path)
    return weights_path


def pretrain(data_path, out_dir, builder_options=None, data_options=None, batch_size=128, seed=1337,
             max_examples=None, verbose="auto", **options):
    """Prepare the training reviews as `kerasrnn.training.train` does and pretrain the encoder.

    The network is built from the same spec `train` builds (the vocabulary
    comes from the same reviews and seed), so the returned weights file
    loads into the network `train` builds as its `initial_weights`.

    Args:
        data_path: the aclImdb folder or tarball.
        out_dir: where the pretraining's files go.
        builder_options: the classifier's builder arguments.
        data_options: arguments of `kerasrnn.tasks.sentiment.data.prepare`.
        batch_size: reviews per batch.
        seed: the data split, shuffle and weight seed, as in `train`.
        max_examples: pretrain on a subset, for quick trials.
        verbose: Keras' progress-bar setting.
        **options: arguments of `pretrain_encoder` (`epochs`, `num_sampled`,
            `dropout`, `learning_rate`, `clipnorm`).

    Returns:
        The path of the network's weights file.

    Example:

    >>> pretrain("../shared/data/aclImdb_v1_labeled.tar.gz", "/tmp/pretrain",
    ...          {"cell": "gru", "units": 16}, {"vocab_size": 5000}, max_examples=200)  # doctest: +SKIP
    """
    from kerasrnn.spec import build_from_spec, check_builder_options
    from kerasrnn.tasks.sentiment.data import prepare

    check_builder_options("sentiment", builder_options)  # before the reviews are read, as in `train`
    keras.utils.set_random_seed(seed)
    data = prepare(data_path, batch_size=batch_size, max_examples=max_examples, seed=seed, **(data_options or {}))
    network = build_from_spec({"task": "sentiment", **(builder_options or {}), **data.spec_arguments})
    return pretrain_encoder(network, data.train, data.validation, out_dir, seed=seed, verbose=verbose, **options)
