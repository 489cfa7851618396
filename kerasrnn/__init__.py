"""kerasrnn: recurrent networks for Keras 3 — builders, real-data pipelines, training.

The public API:

- `SentimentClassifier`, `PosTagger`, `CharLanguageModel`: the task models
  (registered Keras classes): `fit`, `evaluate` and `predict` on raw text or
  integer ids, `from_preset(name | file | URL | hf://...)`, `.keras` files
  that load back as the same class under `safe_mode=True`.
- `SentimentPreprocessor`, `PosTaggerPreprocessor`,
  `CharLanguageModelPreprocessor`: their vocabularies and label names.
- `build_char_lm`, `build_sentiment_classifier`, `build_pos_tagger`: compiled
  `keras.Model`s over integer ids with SimpleRNN, LSTM or GRU cells, each a
  `RecurrentBackbone` (the recurrent hyperparameters, as its config) under
  the task's head.
- `average_of`: one task model averaging the probabilities of several.
- `zoo`: the pretrained models, listed and loaded by name.
- `build_optimizer`: an optimizer by name with Keras' gradient clipping.
- `build_from_spec`, `load_spec`, `save_spec`: architectures as plain JSON.
- `train`, `load_trained`: the training run behind `kerasrnn train` and its output.
- `export_for_serving`: a versioned SavedModel for TF Serving (`kerasrnn export`).
- `export_portable`: a versioned ONNX or LiteRT model with its preprocessing as
  JSON (`kerasrnn export --format onnx|litert`), and `portable`, which runs it
  with numpy and onnxruntime or ai-edge-litert, without TensorFlow or Keras.

- `zoo`, `data`, `layers`, `diagnostics`, `portable`: the subpackages, also as attributes.

Attributes are imported on first use, so `import kerasrnn` (and the CLI's
`--help`) does not pay for importing TensorFlow. Every kerasrnn Keras class is
registered with Keras as soon as Keras is imported (before or after
kerasrnn), so `keras.saving.load_model("model.keras")` loads a saved task
model as its class after a plain `import kerasrnn`.

Example:

>>> import keras, kerasrnn
>>> keras.saving.get_registered_object("kerasrnn>PosTagger") is kerasrnn.PosTagger
True
>>> kerasrnn.zoo.list_models()[0]
'charlm-shakespeare-gru'
"""

from kerasrnn.keras_registration import register_when_keras_is_imported
from kerasrnn.lazy_attributes import lazy_attributes

__version__ = "0.1.0"

_PUBLIC = {
    "CharLanguageModel": "kerasrnn.tasks",
    "CharLanguageModelPreprocessor": "kerasrnn.tasks",
    "PosTagger": "kerasrnn.tasks",
    "PosTaggerPreprocessor": "kerasrnn.tasks",
    "SentimentClassifier": "kerasrnn.tasks",
    "SentimentPreprocessor": "kerasrnn.tasks",
    "RecurrentBackbone": "kerasrnn.tasks",
    "average_of": "kerasrnn.tasks",
    "recurrent_stack": "kerasrnn.layers",
    "build_optimizer": "kerasrnn.optimizers",
    "build_from_spec": "kerasrnn.tasks.model_spec",
    "load_spec": "kerasrnn.tasks.model_spec",
    "save_spec": "kerasrnn.tasks.model_spec",
    "validate_spec": "kerasrnn.tasks.model_spec",
    "build_char_lm": "kerasrnn.tasks",
    "build_pos_tagger": "kerasrnn.tasks",
    "build_sentiment_classifier": "kerasrnn.tasks",
    "export_for_serving": "kerasrnn.export",
    "export_portable": "kerasrnn.export.portable",
    "load_trained": "kerasrnn.training.trainer",
    "train": "kerasrnn.training.trainer",
    "data": "kerasrnn.data",
    "diagnostics": "kerasrnn.diagnostics",
    "layers": "kerasrnn.layers",
    "portable": "kerasrnn.portable",
    "zoo": "kerasrnn.zoo",
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_attributes(__name__, _PUBLIC, globals())
register_when_keras_is_imported()
