"""Sentiment classification: a review in, a label out (IMDB).

Everything about the task lives in this folder: the integer-id builder
(`builder.py`), the preprocessor (`preprocessor.py`), the task model
(`classifier.py`), IMDB data (`data.py`), serving signatures
(`signatures.py`), language-model pretraining of the encoder
(`pretraining.py`), the registry entry (`task.py`), the zoo presets
(`presets.json`),
its ONNX / LiteRT export interface (`portable.py`) and the TensorFlow-free
model that runs such an export (`portable_model.py`).
"""

from kerasrnn.lazy_attributes import lazy_attributes

_PUBLIC = {
    "SentimentClassifier": "kerasrnn.tasks.sentiment.classifier",
    "SentimentPreprocessor": "kerasrnn.tasks.sentiment.preprocessor",
    "build_sentiment_classifier": "kerasrnn.tasks.sentiment.builder",
}
__all__ = sorted(_PUBLIC)
__getattr__, __dir__ = lazy_attributes(__name__, _PUBLIC, globals())
