"""`SentimentClassifier`: a review in, class probabilities out; raw strings or word ids."""

import keras
import numpy as np
import tensorflow as tf

from kerasrnn.data.input_checks import MAX_REVIEW_CHARACTERS, bound_attribute, check_utf8_text, review_too_long
from kerasrnn.tasks.sentiment.preprocessor import SentimentPreprocessor  # noqa: F401  (registers it for loading)
from kerasrnn.tasks.sentiment.builder import SentimentHead
from kerasrnn.tasks.task_model import TaskModel


@keras.saving.register_keras_serializable(package="kerasrnn")
class SentimentClassifier(TaskModel):
    """A many-to-one recurrent classifier with its vocabulary and label names inside.

    The graph is the integer-id network of `build_sentiment_classifier`;
    the `SentimentPreprocessor` turns raw reviews into word ids in the
    `tf.data` pipeline, so `fit`, `evaluate` and `predict` take reviews as
    strings (with label names or ids) or padded word ids.

    A review of more than `max_review_characters` characters (100,000
    unless set on the model; IMDB's longest has 14,282) is refused by
    `predict_text`, and by `fit`, `evaluate` and `predict` on raw reviews:
    the whole text is standardized and split before the first `max_length`
    tokens are kept (see `kerasrnn.data.input_checks`).

    Args:
        network: the network `build_sentiment_classifier` returns.
        preprocessor: a `SentimentPreprocessor` (vocabulary, labels, max length).

    Attributes:
        max_review_characters: the bound on a review's length (not saved with
            the model); `model.max_review_characters = 500_000` raises it.

    Example:

    >>> from kerasrnn.tasks.sentiment import SentimentPreprocessor, build_sentiment_classifier
    >>> words = ["", "[UNK]", "a", "moving", "dull", "film"]
    >>> model = SentimentClassifier(build_sentiment_classifier(len(words), units=4, embedding_dim=4),
    ...                             SentimentPreprocessor(words))
    >>> history = model.fit(["A moving film.", "A dull film."], ["pos", "neg"], epochs=1, verbose=0)
    >>> model.predict(["A moving film."], verbose=0).shape
    (1, 2)
    >>> sorted(model.evaluate(["A dull film."], ["neg"], return_dict=True, verbose=0))
    ['accuracy', 'loss']
    """

    task_name = "sentiment"
    input_limit_names = ("max_review_characters",)
    max_review_characters = bound_attribute("max_review_characters", MAX_REVIEW_CHARACTERS)

    head_class = SentimentHead

    def examples(self, x, y=None):
        from kerasrnn.tasks.sentiment.data import review_examples

        return review_examples(self.preprocessor, x, y, self.max_review_characters)

    def serving_endpoints(self):
        from kerasrnn.tasks.sentiment.signatures import sentiment_endpoints

        return sentiment_endpoints(self)

    def use_adversarial_training(self, adversarial="at", epsilon=None, **options):
        """Train with adversarial (`"at"`) or virtual adversarial (`"vat"`) perturbations of the embeddings.

        Miyato, Dai & Goodfellow 2017 (see `kerasrnn.tasks.sentiment.adversarial`):
        every later `fit` step adds the loss on adversarially perturbed
        embeddings (AT) or the KL divergence to the virtually perturbed
        prediction (VAT). Training only: the classifier's graph, config and
        saved file stay those of an ordinary classifier.

        Args:
            adversarial: `"at"`, `"vat"`, or `"none"` (back to plain training).
            epsilon: the L2 norm of each review's perturbation (default 5.0,
                the paper's).
            **options: more `AdversarialTraining` arguments (`xi`,
                `normalize_embeddings`, `seed`).

        Returns:
            The classifier itself.

        Example:

        >>> from kerasrnn.tasks.sentiment import build_sentiment_classifier
        >>> words = ["", "[UNK]", "a", "moving", "dull", "film"]
        >>> model = SentimentClassifier(build_sentiment_classifier(len(words), units=4, embedding_dim=4),
        ...                             SentimentPreprocessor(words))
        >>> history = model.use_adversarial_training("vat", epsilon=1.0).fit(
        ...     ["A moving film.", "A dull film."], ["pos", "neg"], epochs=1, verbose=0)
        >>> model.adversarial_training.mode
        'vat'
        """
        from kerasrnn.tasks.sentiment.adversarial import (
            ADVERSARIAL_MODES, DEFAULT_EPSILON, AdversarialTraining, EmbeddedNetwork, check_adversarial_epsilon,
        )
        from kerasrnn.validation import check_choice

        check_choice("adversarial", adversarial, ADVERSARIAL_MODES)
        epsilon = DEFAULT_EPSILON if epsilon is None else check_adversarial_epsilon(epsilon)
        # Keras reuses a traced train function: trace the new step on the next fit.
        self.train_function = None
        if adversarial == "none":
            self.adversarial_training = self.embedded_network = None
            return self
        settings = AdversarialTraining(adversarial, epsilon, **options)
        split = EmbeddedNetwork(self.network)
        if settings.normalize_embeddings:
            embeddings = split.embedding.embeddings
            embeddings.assign(settings.standardize(embeddings))
            # Applied by the optimizer after every update; the variable's own
            # constraint, not the layer's, so it is not saved with the model.
            embeddings.constraint = settings.standardize
        self.adversarial_training, self.embedded_network = settings, split
        return self

    @classmethod
    def check_training_options(cls, adversarial="none", adversarial_epsilon=None, unlabeled=None):
        """Refuse bad `kerasrnn.training.train` options of this task in one line, before any data is read.

        Args:
            adversarial: `"none"`, `"at"` or `"vat"` (see `use_adversarial_training`).
            adversarial_epsilon: the perturbation's L2 norm per review (default 5.0).
            unlabeled: IMDB's unlabeled reviews (`aclImdb_v1_unsup.tar.gz`),
                for VAT's term on unlabeled batches.

        Example:

        >>> SentimentClassifier.check_training_options("at", adversarial_epsilon=2.0)
        >>> SentimentClassifier.check_training_options("at", unlabeled="unsup.tar.gz")
        Traceback (most recent call last):
        ...
        ValueError: `unlabeled` reviews are only used by adversarial='vat'. Received: adversarial='at'
        """
        import os

        from kerasrnn.tasks.sentiment.adversarial import ADVERSARIAL_MODES, check_adversarial_epsilon
        from kerasrnn.validation import check_choice

        check_choice("adversarial", adversarial, ADVERSARIAL_MODES)
        if adversarial_epsilon is not None:
            if adversarial == "none":
                raise ValueError("`adversarial_epsilon` needs adversarial='at' or 'vat'. Received: adversarial='none'")
            check_adversarial_epsilon(adversarial_epsilon)
        if unlabeled is not None:
            if adversarial != "vat":
                raise ValueError(
                    f"`unlabeled` reviews are only used by adversarial='vat'. Received: adversarial={adversarial!r}"
                )
            if not os.path.exists(unlabeled):
                raise ValueError(
                    f"`unlabeled`: {unlabeled!r} does not exist; give aclImdb_v1_unsup.tar.gz or an aclImdb folder."
                )

    def use_training_options(self, train_data, batch_size, seed, max_examples=None, adversarial="none",
                             adversarial_epsilon=None, unlabeled=None):
        """Set this task's `train` options on the classifier; return the training batches to fit.

        `kerasrnn.training.train` calls it with the prepared training
        batches. With `unlabeled`, each batch is paired with a batch of
        unlabeled reviews (through this classifier's preprocessor, batched
        by length, shuffled with `seed`; at most `max_examples` of them).

        Example:

        >>> train_data = model.use_training_options(train_data, 128, 1337, adversarial="at")  # doctest: +SKIP
        """
        self.check_training_options(adversarial, adversarial_epsilon, unlabeled)
        self.use_adversarial_training(adversarial, adversarial_epsilon, seed=seed)
        if unlabeled is None:
            return train_data
        from kerasrnn.data.length_buckets import bucketed_batches
        from kerasrnn.tasks.sentiment.adversarial import with_unlabeled_batches
        from kerasrnn.tasks.sentiment.data import review_examples
        from kerasrnn.tasks.sentiment.pretraining import _read_unlabeled

        texts = _read_unlabeled(unlabeled, max_examples)
        examples = review_examples(self.preprocessor, texts).map(lambda word_ids: (word_ids, 0)).cache()
        batches = bucketed_batches(examples, batch_size, shuffle_buffer=len(texts), seed=seed)
        return with_unlabeled_batches(train_data, batches.map(lambda word_ids, _: word_ids))

    def train_step(self, data):
        if getattr(self, "adversarial_training", None) is None:
            return super().train_step(data)
        from kerasrnn.tasks.sentiment.adversarial import adversarial_train_step

        return adversarial_train_step(self, data)

    def predict_text(self, text):
        """Classify one review; returns the label and the class probabilities.

        A review of more than `max_review_characters` characters, or a str
        holding bytes that were not UTF-8 (surrogates), is refused in one line.

        Example:

        >>> sorted(model.predict_text("A wonderful, moving film."))  # doctest: +SKIP
        ['label', 'probabilities']
        """
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"The review to classify must be non-empty text. Received: {text!r}")
        if len(text) > self.max_review_characters:
            raise review_too_long("The review", len(text), self.max_review_characters)
        check_utf8_text(text, "The review")
        probabilities = np.asarray(self(self.preprocessor(tf.constant([text])), training=False))[0]
        labels = self.preprocessor.labels
        return {
            "label": labels[int(np.argmax(probabilities))],
            "probabilities": {name: float(p) for name, p in zip(labels, probabilities)},
        }
