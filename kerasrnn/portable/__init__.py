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

from kerasrnn.portable.models import (
    PortableCharLanguageModel,
    PortableModel,
    PortablePosTagger,
    PortableSentimentClassifier,
    load,
)

__all__ = ["PortableCharLanguageModel", "PortableModel", "PortablePosTagger", "PortableSentimentClassifier", "load"]
