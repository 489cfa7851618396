"""Part-of-speech tagging: one tag per word (UD English EWT).

The folder has the files every task has (see `kerasrnn.tasks`), its model in
`tagger.py`, and its metric over real words (`token_accuracy.py`).
"""

from kerasrnn.lazy_attributes import lazy_attributes

_PUBLIC = {
    "PosTagger": "kerasrnn.tasks.pos_tagger.tagger",
    "PosTaggerPreprocessor": "kerasrnn.tasks.pos_tagger.preprocessor",
    "TokenAccuracy": "kerasrnn.tasks.pos_tagger.token_accuracy",
    "build_pos_tagger": "kerasrnn.tasks.pos_tagger.builder",
}
__all__ = sorted(_PUBLIC)
__getattr__, __dir__ = lazy_attributes(__name__, _PUBLIC, globals())
