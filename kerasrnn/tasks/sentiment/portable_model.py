"""The sentiment classifier's text methods over a portable (ONNX / LiteRT) export.

No TensorFlow: `kerasrnn.portable.load` finds this class through the task registry.
"""

import numpy as np

from kerasrnn.portable import text as preprocessing
from kerasrnn.portable.models import PortableModel, load  # noqa: F401 (the examples use load)


class PortableSentimentClassifier(PortableModel):
    """`SentimentClassifier`'s `predict` and `predict_text` on an exported graph.

    Example:

    >>> model = load("export/imdb-onnx/1")  # doctest: +SKIP
    >>> model.predict_text("A wonderful, moving film.")["label"]  # doctest: +SKIP
    'pos'
    """

    task = "sentiment"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.labels = list(self.preprocessing["labels"])
        self.word_index = preprocessing.index_of(self.preprocessing["vocabulary"][2:], 2)

    def encode(self, texts):
        """Reviews → right-padded word ids `(batch, longest)`, as `SentimentPreprocessor`."""
        return preprocessing.review_ids(texts, self.word_index, self.preprocessing["max_length"])

    def predict(self, texts):
        """Class probabilities `(batch, classes)` of a list of reviews (one padded batch)."""
        return self.run(token_ids=self.encode(list(texts)))[self.output_name]

    def predict_text(self, text):
        """Classify one review: `{"label": name, "probabilities": {name: p}}`, as `SentimentClassifier.predict_text`."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"The review to classify must be non-empty text. Received: {text!r}")
        probabilities = self.predict([text])[0]
        return {
            "label": self.labels[int(np.argmax(probabilities))],
            "probabilities": {name: float(p) for name, p in zip(self.labels, probabilities)},
        }


# What `TaskDescription.portable_model()` returns.
PORTABLE_MODEL = PortableSentimentClassifier
