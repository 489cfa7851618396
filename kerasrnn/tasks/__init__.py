"""The three tasks, one folder each, reached through `kerasrnn.tasks.registry`.

Each builder returns a compiled `keras.Model` over integer ids: a
`RecurrentBackbone` and the task's head as one flat network; each task model
class wraps such a network with its preprocessor.
"""

from kerasrnn.lazy_attributes import lazy_attributes

_PUBLIC = {
    "CharLanguageModel": "kerasrnn.tasks.char_lm",
    "CharLanguageModelPreprocessor": "kerasrnn.tasks.char_lm",
    "PosTagger": "kerasrnn.tasks.pos_tagger",
    "PosTaggerPreprocessor": "kerasrnn.tasks.pos_tagger",
    "RecurrentBackbone": "kerasrnn.tasks.recurrent_backbone",
    "SentimentClassifier": "kerasrnn.tasks.sentiment",
    "SentimentPreprocessor": "kerasrnn.tasks.sentiment",
    "TaskModel": "kerasrnn.tasks.task_model",
    "average_of": "kerasrnn.tasks.ensemble",
    "build_char_lm": "kerasrnn.tasks.char_lm",
    "build_pos_tagger": "kerasrnn.tasks.pos_tagger",
    "build_sentiment_classifier": "kerasrnn.tasks.sentiment",
}
__all__ = sorted(_PUBLIC)
__getattr__, __dir__ = lazy_attributes(__name__, _PUBLIC, globals())
