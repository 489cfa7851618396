"""Part-of-speech tagging: one tag per word (UD English EWT).

Everything about the task lives in this folder: the integer-id builder
(`builder.py`), the preprocessor (`preprocessor.py`), the task model
(`tagger.py`), its metric (`token_accuracy.py`), CoNLL-U data (`data.py`),
serving signatures (`signatures.py`), the registry entry (`task.py`), the
zoo presets (`presets.json`),
its ONNX / LiteRT export interface (`portable.py`) and the TensorFlow-free
model that runs such an export (`portable_model.py`).
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
