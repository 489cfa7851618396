"""The character language model in `kerasrnn diagnose`: TBPTT windows of a text file, probe windows held out."""

import os

import numpy as np

from kerasrnn.data.text import read_text, split_text, tbptt_dataset
from kerasrnn.diagnostics.config import DiagnoseConfig  # noqa: F401 (the examples use it)
from kerasrnn.diagnostics.diagnosis_data import DiagnosisData
from kerasrnn.tasks.char_lm.builder import build_char_lm
from kerasrnn.tasks.char_lm.preprocessor import CharLanguageModelPreprocessor


def diagnosis_data(path, config):
    """Char LM on a text file: TBPTT windows of the first 90%, probe windows from the last 10%.

    Args:
        path: a UTF-8 text file (Tiny Shakespeare's `input.txt`).
        config: a `DiagnoseConfig`.

    Example:

    >>> diagnosis_data("../shared/data/tinyshakespeare/input.txt", DiagnoseConfig(seq_len=20)).task
    'char_lm'
    """
    train_text, val_text = split_text(read_text(path))
    characters = sorted(set(train_text))
    preprocessor = CharLanguageModelPreprocessor(characters)
    # Enough training text for every run, so no window repeats within a run.
    needed = (max(config.train_steps, config.clip_steps) + 1) * config.batch_size * config.seq_len + 1
    train_ids = preprocessor.encode(train_text[:needed])
    val_ids = preprocessor.encode(val_text)
    stride = (len(val_ids) - config.seq_len - 1) // config.probe_examples
    if stride <= 0:
        raise ValueError(f"{path}: the held-out text is too short for {config.probe_examples} windows of {config.seq_len}.")
    starts = np.arange(config.probe_examples) * stride
    probe = (
        np.stack([val_ids[s : s + config.seq_len] for s in starts]),
        np.stack([val_ids[s + 1 : s + config.seq_len + 1] for s in starts]),
    )
    train = tbptt_dataset(train_ids, config.batch_size, config.seq_len).shuffle(4096, seed=config.seed)

    def build(**options):
        return build_char_lm(len(characters) + 1, units=config.units, num_layers=1, **options)

    return DiagnosisData(
        task="char_lm",
        description=f"character LM on {os.path.basename(path)} ({len(characters) + 1} ids), "
        f"windows of {config.seq_len} characters",
        build=build,
        train=train,
        probe=probe,
        flow_note="a char LM has a loss at every step, so ‖∂L/∂h_t‖ stays level: the long-range part is ‖∂h_T/∂h_t‖",
    )
