"""Character-level language modelling: teacher forcing, truncated BPTT, temperature sampling.

Everything about the task lives in this folder: the integer-id builder
(`builder.py`), the preprocessor (`preprocessor.py`), the task model
(`language_model.py`), its training hook for a stateful network
(`reset_states_each_epoch.py`), its metrics (`metrics.py`), the one in-graph sampler
(`sampler.py`) used by Python, the CLI and the export, text data
(`data.py`), serving signatures (`signatures.py`), the registry entry
(`task.py`), the zoo presets (`presets.json`),
its ONNX / LiteRT export interface (`portable.py`) and the TensorFlow-free
model that runs such an export (`portable_model.py`).
"""

from kerasrnn.lazy_attributes import lazy_attributes

_PUBLIC = {
    "CharLanguageModel": "kerasrnn.tasks.char_lm.language_model",
    "CharLanguageModelPreprocessor": "kerasrnn.tasks.char_lm.preprocessor",
    "build_char_lm": "kerasrnn.tasks.char_lm.builder",
}
__all__ = sorted(_PUBLIC)
__getattr__, __dir__ = lazy_attributes(__name__, _PUBLIC, globals())
