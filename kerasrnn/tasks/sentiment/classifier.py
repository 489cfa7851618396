"""`SentimentClassifier`: a review in, class probabilities out; raw strings or word ids."""

import keras
import numpy as np
import tensorflow as tf

from kerasrnn.tasks.sentiment.preprocessor import SentimentPreprocessor  # noqa: F401  (registers it for loading)
from kerasrnn.tasks.task_model import TaskModel


@keras.saving.register_keras_serializable(package="kerasrnn")
class SentimentClassifier(TaskModel):
    """A many-to-one recurrent classifier with its vocabulary and label names inside.

    The graph is the integer-id network of `build_sentiment_classifier`;
    the `SentimentPreprocessor` turns raw reviews into word ids in the
    `tf.data` pipeline, so `fit`, `evaluate` and `predict` take reviews as
    strings (with label names or ids) or padded word ids.

    Args:
        network: the network `build_sentiment_classifier` returns.
        preprocessor: a `SentimentPreprocessor` (vocabulary, labels, max length).

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

    def default_loss(self):
        return "sparse_categorical_crossentropy"

    def default_metrics(self):
        return ["accuracy"]

    def examples(self, x, y=None):
        from kerasrnn.tasks.sentiment.data import review_examples

        return review_examples(self.preprocessor, x, y)

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

    def train_step(self, data):
        if getattr(self, "adversarial_training", None) is None:
            return super().train_step(data)
        from kerasrnn.tasks.sentiment.adversarial import adversarial_train_step

        return adversarial_train_step(self, data)

    def predict_text(self, text):
        """Classify one review; returns the label and the class probabilities.

        Example:

        >>> sorted(model.predict_text("A wonderful, moving film."))  # doctest: +SKIP
        ['label', 'probabilities']
        """
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"The review to classify must be non-empty text. Received: {text!r}")
        probabilities = np.asarray(self(self.preprocessor(tf.constant([text])), training=False))[0]
        labels = self.preprocessor.labels
        return {
            "label": labels[int(np.argmax(probabilities))],
            "probabilities": {name: float(p) for name, p in zip(labels, probabilities)},
        }
