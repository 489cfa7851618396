"""Adversarial (AT) and virtual adversarial (VAT) training of the sentiment classifier.

Miyato, Dai & Goodfellow 2017, "Adversarial Training Methods for
Semi-Supervised Text Classification" (arXiv:1605.07725): the perturbation
is applied to the word embeddings, not to the (discrete) word ids.

- AT adds the loss on `embeddings + r_adv`, where `r_adv = epsilon * g /
  ||g||_2` and `g` is the gradient of the clean loss with respect to the
  embedded review; the norm is taken per review over all its (time x
  embedding) values.
- VAT adds `KL(p(x) || p(x + r_vadv))`, with `p(x)` held fixed, where
  `r_vadv` is found by one power-iteration step from a random unit vector
  `d`: `g = d KL(p(x) || p(x + xi * d)) / d d`, `r_vadv = epsilon * g /
  ||g||_2`. It needs no labels, so it also runs on unlabeled reviews.

Padding (id 0) gets exactly zero perturbation. All of this is training
only: `SentimentClassifier.train_step` runs it when the classifier was
given `use_adversarial_training`; the classifier's graph, config and saved
file are those of an ordinary classifier.
"""

import inspect
import math
import numbers

import keras
import tensorflow as tf

from kerasrnn.keras_adapter import compiled_loss, first_call_argument
from kerasrnn.validation import check_choice

ADVERSARIAL_MODES = ("none", "at", "vat")
# The paper's epsilon (for embeddings normalized to zero mean, unit variance).
DEFAULT_EPSILON = 5.0
# The power iteration's finite-difference step (the paper's code uses 1e-6).
DEFAULT_XI = 1e-6
EMBEDDING_NORMALIZATIONS = (None, "standardize")


def check_adversarial_epsilon(epsilon, name="adversarial_epsilon"):
    """Return `epsilon` as a float if it is a finite number > 0, else raise a one-line `ValueError`.

    Example:

    >>> check_adversarial_epsilon(5)
    5.0
    >>> check_adversarial_epsilon(-1.0)
    Traceback (most recent call last):
    ...
    ValueError: `adversarial_epsilon` must be a finite number > 0 (the L2 norm of each review's perturbation). Received: adversarial_epsilon=-1.0
    """
    if (isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real)
            or not math.isfinite(epsilon) or epsilon <= 0):
        raise ValueError(
            f"`{name}` must be a finite number > 0 (the L2 norm of each review's perturbation). "
            f"Received: {name}={epsilon!r}"
        )
    return float(epsilon)


def unit_perturbation(direction, mask=None):
    """Scale each example's `direction` to L2 norm 1 over all its (time x features) values; padding gets 0.

    Computed as the paper's code does: divided by the largest magnitude
    first, so a tiny gradient (a loss averaged over a batch) neither
    underflows nor loses precision.

    Args:
        direction: a `(batch, time, features)` float tensor.
        mask: a `(batch, time)` boolean tensor, False at padding, or None.

    Returns:
        A tensor of `direction`'s shape: zero at padding, norm 1 per
        example (0 for an example that is all padding or all zeros).

    Example:

    >>> unit = unit_perturbation(tf.ones((1, 2, 2)), tf.constant([[True, False]]))
    >>> round(float(tf.norm(unit[0])), 5), unit[0, 1].numpy().tolist()
    (1.0, [0.0, 0.0])
    """
    direction = tf.convert_to_tensor(direction)
    if mask is not None:
        direction = direction * tf.cast(mask, direction.dtype)[:, :, None]
    largest = tf.reduce_max(tf.abs(direction), axis=(1, 2), keepdims=True)
    scaled = tf.math.divide_no_nan(direction, largest)
    norm = tf.sqrt(tf.reduce_sum(tf.square(scaled), axis=(1, 2), keepdims=True))
    return tf.math.divide_no_nan(scaled, norm)


def kl_divergence(reference_logits, logits):
    """`KL(softmax(reference_logits) || softmax(logits))` per example, in nats (never negative).

    Args:
        reference_logits: `(batch, classes)` logits of the fixed distribution `p`.
        logits: `(batch, classes)` logits of `q`.

    Example:

    >>> float(kl_divergence(tf.constant([[1.0, 2.0]]), tf.constant([[1.0, 2.0]]))[0])
    0.0
    >>> float(kl_divergence(tf.constant([[0.0, 0.0]]), tf.constant([[0.0, 2.0]]))[0]) > 0
    True
    """
    reference = tf.nn.log_softmax(reference_logits)
    divergence = tf.reduce_sum(tf.exp(reference) * (reference - tf.nn.log_softmax(logits)), axis=-1)
    # Rounding can leave -1e-9 where p == q.
    return tf.maximum(divergence, 0.0)


class EmbeddedNetwork:
    """A sentiment network split at its embedding layer: ids → embeddings, and embeddings → logits.

    The layers are the network's own (same weights); nothing is copied and
    the network is not changed. The network must be the chain
    `build_sentiment_classifier` builds: token ids, optional word dropout,
    the `"embedding"` layer, then one layer after another to a softmax
    `Dense`.

    Args:
        network: the integer-id network of `build_sentiment_classifier`.

    Example:

    >>> from kerasrnn.tasks.sentiment import build_sentiment_classifier
    >>> network = build_sentiment_classifier(vocab_size=20, units=4, embedding_dim=4)
    >>> split = EmbeddedNetwork(network)
    >>> ids = tf.constant([[5, 6, 0]])
    >>> embedded, mask = split.embed(ids)
    >>> probabilities = tf.nn.softmax(split.logits(embedded, mask))
    >>> bool(tf.reduce_all(tf.abs(probabilities - network(ids)) < 1e-6))
    True
    """

    def __init__(self, network):
        layers = network.layers
        embedding = next((layer for layer in layers if layer.name == "embedding"), None)
        if not isinstance(embedding, keras.layers.Embedding):
            raise ValueError(f"`network` has no Embedding layer named 'embedding'. Received: {network.name}")
        for previous, layer in zip(layers, layers[1:]):
            # Its first argument is the previous layer's output (the padding
            # mask, an op of its own in the graph, is another argument).
            first = first_call_argument(layer)
            if getattr(first, "_keras_history", (None,))[0] is not previous:
                raise ValueError(
                    f"Adversarial training needs a network whose layers form one chain; "
                    f"{layer.name!r} does not read {previous.name!r}."
                )
        output = layers[-1]
        if not isinstance(output, keras.layers.Dense) or output.activation is not keras.activations.softmax:
            raise ValueError(f"`network` must end in a softmax Dense layer. Received: {output.name!r}")
        position = layers.index(embedding)
        self.embedding = embedding
        self._to_embedding = layers[1:position + 1]
        self._to_features = layers[position + 1:-1]
        self._output = output

    def embed(self, token_ids, training=False):
        """`(embeddings, mask)`: the embedded ids `(batch, time, dim)` and where they are not padding."""
        x = token_ids
        for layer in self._to_embedding:
            x = layer(x, training=training)
        mask = self.embedding.compute_mask(token_ids)
        if mask is None:
            mask = tf.ones(tf.shape(token_ids)[:2], dtype="bool")
        return x, mask

    def logits(self, embedded, mask, training=False):
        """The output layer's logits (before its softmax) for `embedded` reviews with padding `mask`."""
        x = embedded
        for layer in self._to_features:
            accepts_mask = "mask" in inspect.signature(layer.call).parameters
            y = layer(x, mask=mask, training=training) if accepts_mask else layer(x, training=training)
            mask = layer.compute_mask(x, mask)
            x = y
        logits = tf.matmul(x, self._output.kernel)
        return logits + self._output.bias if self._output.use_bias else logits


class AdversarialTraining:
    """The settings of adversarial (`"at"`) or virtual adversarial (`"vat"`) training, and its loss.

    A training-only object: `SentimentClassifier.use_adversarial_training`
    builds one, and the classifier's `train_step` asks it for the extra
    loss. It is not part of the classifier's config or saved file.

    Args:
        mode: `"at"` (adversarial; needs labels) or `"vat"` (virtual
            adversarial; also on unlabeled reviews).
        epsilon: the L2 norm of each review's perturbation, over all its
            (time x embedding) values (the paper: 5.0, for standardized
            embeddings).
        xi: VAT's finite-difference step for the power iteration.
        normalize_embeddings: `"standardize"`: keep the embedding matrix at
            zero mean and unit variance per dimension (over the vocabulary,
            each word weighted alike), as the paper does so that the model
            cannot make any epsilon negligible by growing its embeddings;
            applied once at the start and after every update (as a
            variable constraint). None (default): embeddings as they are.
        seed: seeds VAT's random directions (with the step number, so a
            resumed run draws the same ones).

    Example:

    >>> AdversarialTraining("vat", epsilon=2.0).get_config()["mode"]
    'vat'
    >>> AdversarialTraining("gan")
    Traceback (most recent call last):
    ...
    ValueError: `adversarial` must be one of 'at', 'vat'. Received: adversarial='gan'
    """

    def __init__(self, mode="at", epsilon=DEFAULT_EPSILON, xi=DEFAULT_XI, normalize_embeddings=None, seed=0):
        self.mode = check_choice("adversarial", mode, ADVERSARIAL_MODES[1:])
        self.epsilon = check_adversarial_epsilon(epsilon)
        self.xi = check_adversarial_epsilon(xi, "xi")
        self.normalize_embeddings = check_choice(
            "normalize_embeddings", normalize_embeddings, EMBEDDING_NORMALIZATIONS
        )
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise ValueError(f"`seed` must be an integer. Received: seed={seed!r}")
        self.seed = int(seed)

    def get_config(self):
        return {"mode": self.mode, "epsilon": self.epsilon, "xi": self.xi,
                "normalize_embeddings": self.normalize_embeddings, "seed": self.seed}

    def adversarial_perturbation(self, gradient, mask):
        """`r_adv = epsilon * g / ||g||_2` per example, zero at padding."""
        return self.epsilon * unit_perturbation(tf.stop_gradient(gradient), mask)

    def virtual_adversarial_loss(self, split, embedded, mask, reference_logits, step, training=True):
        """Mean `KL(p(x) || p(x + r_vadv))` over the batch, `p(x)` fixed (one power-iteration step).

        Args:
            split: the `EmbeddedNetwork`.
            embedded: the embedded batch (gradients flow into it).
            mask: its padding mask.
            reference_logits: the logits of `p(x)` (held fixed).
            step: an integer tensor (the optimizer's step): with `seed`,
                it picks the random direction.
            training: run the network's dropout.
        """
        reference_logits = tf.stop_gradient(reference_logits)
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        direction = unit_perturbation(tf.random.stateless_normal(tf.shape(embedded), seed, dtype=embedded.dtype), mask)
        fixed = tf.stop_gradient(embedded)
        with tf.GradientTape() as tape:
            tape.watch(direction)
            divergence = tf.reduce_mean(
                kl_divergence(reference_logits, split.logits(fixed + self.xi * direction, mask, training))
            )
        perturbation = self.epsilon * unit_perturbation(tf.stop_gradient(tape.gradient(divergence, direction)), mask)
        return tf.reduce_mean(kl_divergence(reference_logits, split.logits(embedded + perturbation, mask, training)))

    def standardize(self, embeddings):
        """The embedding matrix at zero mean and unit variance per dimension (padding row 0 kept at 0)."""
        rows = embeddings[1:]
        mean = tf.reduce_mean(rows, axis=0, keepdims=True)
        variance = tf.reduce_mean(tf.square(rows - mean), axis=0, keepdims=True)
        standardized = (rows - mean) * tf.math.rsqrt(variance + 1e-6)
        return tf.concat([tf.zeros_like(embeddings[:1]), standardized], axis=0)


def adversarial_train_step(model, data):
    """One training step of `model` (a `SentimentClassifier`) with its `adversarial_training` loss added.

    `data` is `(ids, labels[, sample_weight])`, where `ids` may be a dict
    `{"token_ids": ..., "unlabeled_token_ids": ...}` (see
    `with_unlabeled_batches`): VAT then also runs on the unlabeled batch.
    The reported `loss` is the total: clean loss plus the adversarial term.

    Example:

    >>> logs = adversarial_train_step(model, (ids, labels))  # doctest: +SKIP
    """
    settings = model.adversarial_training
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    unlabeled = None
    if isinstance(x, dict):
        x, unlabeled = x["token_ids"], x.get("unlabeled_token_ids")
    split = model.embedded_network
    step = model.optimizer.iterations
    with tf.GradientTape() as tape:
        with tf.GradientTape() as inner:
            embedded, mask = split.embed(x, training=True)
            inner.watch(embedded)
            logits = split.logits(embedded, mask, training=True)
            probabilities = tf.nn.softmax(logits)
            # The compiled loss with the model's regularization losses, as Keras' own step.
            loss = model.compute_loss(x=x, y=y, y_pred=probabilities, sample_weight=sample_weight, training=True)
        if settings.mode == "at":
            with tape.stop_recording():
                gradient = inner.gradient(loss, embedded)
            perturbation = settings.adversarial_perturbation(gradient, mask)
            adversarial = tf.nn.softmax(split.logits(embedded + perturbation, mask, training=True))
            extra = compiled_loss(model, y, adversarial, sample_weight)
        else:
            extra = settings.virtual_adversarial_loss(split, embedded, mask, logits, step)
            if unlabeled is not None:
                unlabeled_embedded, unlabeled_mask = split.embed(unlabeled, training=True)
                unlabeled_logits = split.logits(unlabeled_embedded, unlabeled_mask, training=True)
                # Another direction than the labeled batch's: the step's seed, shifted.
                extra += settings.virtual_adversarial_loss(
                    split, unlabeled_embedded, unlabeled_mask, unlabeled_logits, step + (1 << 40)
                )
        loss = loss + extra
        # Keras lists its loss tracker (named "loss") among the compiled model's metrics.
        next(metric for metric in model.metrics if metric.name == "loss").update_state(loss, sample_weight=tf.shape(x)[0])
        scaled = model.optimizer.scale_loss(loss)
    variables = model.trainable_weights
    model.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
    return model.compute_metrics(x, y, probabilities, sample_weight=sample_weight)


def with_unlabeled_batches(train, unlabeled):
    """Pair every training batch with a batch of unlabeled ids (cycled), for VAT on unlabeled reviews.

    Args:
        train: a `tf.data.Dataset` of `(ids, labels)` batches.
        unlabeled: a `tf.data.Dataset` of id batches (no labels).

    Returns:
        A dataset of `({"token_ids": ids, "unlabeled_token_ids": more_ids}, labels)`.

    Example:

    >>> train = tf.data.Dataset.from_tensors((tf.constant([[3, 4]]), tf.constant([1])))
    >>> paired = with_unlabeled_batches(train, tf.data.Dataset.from_tensors(tf.constant([[5, 0]])))
    >>> sorted(next(iter(paired))[0])
    ['token_ids', 'unlabeled_token_ids']
    """
    def pair(batch, more_ids):
        x, y = batch[0], batch[1]
        return ({"token_ids": x, "unlabeled_token_ids": more_ids}, y) + tuple(batch[2:])

    return tf.data.Dataset.zip((train, unlabeled.repeat())).map(pair)
