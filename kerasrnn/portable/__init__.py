"""Run kerasrnn's exported models without TensorFlow or Keras: numpy and onnxruntime or ai-edge-litert.

`kerasrnn export MODEL --format onnx --base-path export/NAME` (or
`--format litert`) writes `export/NAME/<version>/model.onnx` (or
`model.tflite`) with `preprocessing.json` and `model.json` beside it;
`load` opens that folder as its task's model, with the Keras task models'
text methods: `predict_text` for the sentiment classifier and the tagger,
`generate` for the char LM. The text preprocessing (standardization,
tokenization, vocabulary and character lookups) is re-implemented in
plain Python, id for id equal to the TensorFlow one.

Importing and using this package never imports TensorFlow or Keras; it
needs `pip install "kerasrnn[portable]"`'s runtimes (onnxruntime for
`.onnx`, ai-edge-litert for `.tflite`), each imported only when used.

Example:

>>> from kerasrnn import portable
>>> portable.load("export/imdb-onnx/1").predict_text("A moving film.")  # doctest: +SKIP
{'label': 'pos', 'probabilities': {'neg': 0.08, 'pos': 0.92}}
"""

from kerasrnn.lazy_attributes import lazy_attributes
from kerasrnn.portable.models import PortableModel, load

# Each task's portable model lives in its folder (imported on first use).
_PUBLIC = {
    "PortableCharLanguageModel": "kerasrnn.tasks.char_lm.portable_model",
    "PortablePosTagger": "kerasrnn.tasks.pos_tagger.portable_model",
    "PortableSentimentClassifier": "kerasrnn.tasks.sentiment.portable_model",
}
__all__ = sorted([*_PUBLIC, "PortableModel", "load"])
__getattr__, __dir__ = lazy_attributes(__name__, _PUBLIC, globals())
