"""Character-level language modelling: teacher forcing, truncated BPTT, temperature sampling.

The folder has the files every task has (see `kerasrnn.tasks`), its model in
`language_model.py`, and its own extras: the one in-graph sampler
(`sampler.py`, used by Python, the CLI and the export) with its limits
(`generation_limits.py`), the training hook of a stateful network
(`reset_states_each_epoch.py`), its metrics (`metrics.py`) and its data for
`kerasrnn diagnose` (`diagnosis.py`).
"""

from kerasrnn.lazy_attributes import lazy_attributes

_PUBLIC = {
    "CharLanguageModel": "kerasrnn.tasks.char_lm.language_model",
    "CharLanguageModelPreprocessor": "kerasrnn.tasks.char_lm.preprocessor",
    "build_char_lm": "kerasrnn.tasks.char_lm.builder",
}
__all__ = sorted(_PUBLIC)
__getattr__, __dir__ = lazy_attributes(__name__, _PUBLIC, globals())
