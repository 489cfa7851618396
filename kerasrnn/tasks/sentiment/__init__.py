"""Sentiment classification: a review in, a label out (IMDB).

The folder has the files every task has (see `kerasrnn.tasks`), its model in
`classifier.py`, and its own extras: language-model pretraining of the
encoder (`pretraining.py`), adversarial training (`adversarial.py`) and its
data for `kerasrnn diagnose` (`diagnosis.py`).
"""

from kerasrnn.lazy_attributes import lazy_attributes

_PUBLIC = {
    "SentimentClassifier": "kerasrnn.tasks.sentiment.classifier",
    "SentimentPreprocessor": "kerasrnn.tasks.sentiment.preprocessor",
    "build_sentiment_classifier": "kerasrnn.tasks.sentiment.builder",
}
__all__ = sorted(_PUBLIC)
__getattr__, __dir__ = lazy_attributes(__name__, _PUBLIC, globals())
