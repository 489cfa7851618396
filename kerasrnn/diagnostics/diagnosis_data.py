"""`DiagnosisData`: what a task gives `kerasrnn diagnose` — how to build its model, a training stream, a probe batch.

A task that can be diagnosed has a `diagnosis` module in its folder whose
`diagnosis_data(path, config)` returns one (see
`kerasrnn.tasks.char_lm.diagnosis`); `load_diagnosis_data` asks each task
whose data reader accepts the `--data` path.
"""

import dataclasses

import tensorflow as tf


@dataclasses.dataclass
class DiagnosisData:
    """A task on real data: how to build its model, its training stream, a held-out probe batch.

    Attributes:
        task: `"char_lm"` or `"sentiment"`.
        description: one line for plot titles.
        build: `build(**builder_options)` returns a compiled model for this data.
        train: an endless-enough `tf.data.Dataset` of `(ids, targets)` batches.
        probe: the held-out `(inputs, targets)` batch the flow is measured on.
        flow_note: how to read this task's gradient-flow plot, appended to
            its caption (e.g. a char LM's loss at every step keeps ‖∂L/∂h_t‖ level).

    Example:

    >>> from kerasrnn.diagnostics.config import DiagnoseConfig
    >>> from kerasrnn.diagnostics.experiments import load_diagnosis_data
    >>> data = load_diagnosis_data("../shared/data/tinyshakespeare/input.txt", DiagnoseConfig(seq_len=20))
    >>> data.task, data.probe[0].shape
    ('char_lm', (8, 20))
    """

    task: str
    description: str
    build: object
    train: tf.data.Dataset
    probe: tuple
    flow_note: str = ""
