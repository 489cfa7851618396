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
