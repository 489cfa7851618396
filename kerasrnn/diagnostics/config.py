"""What `kerasrnn diagnose` runs (no TensorFlow import here: the CLI's parser reads it)."""

import dataclasses

from kerasrnn.validation import check_positive_int

CELLS = ("simple_rnn", "lstm", "gru")


@dataclasses.dataclass
class DiagnoseConfig:
    """What `kerasrnn diagnose` runs; the defaults make the committed report.

    Attributes:
        seq_len: time steps of every measured sequence (and of training windows).
        units: hidden units of the one recurrent layer.
        batch_size: training batch size.
        probe_examples: held-out sequences the gradient flow is measured on.
        jacobian_examples: how many of them the ∂h_T/∂h_t norms average over.
        train_steps: training steps of the cells comparison.
        clip_steps: training steps of each clipping run.
        clip_cell: the cell of the clipping runs.
        clipnorm: per-variable norm bound of the `clipnorm` run.
        clipvalue: per-component bound of the `clipvalue` run.
        global_clipnorm: global norm bound of the `global_clipnorm` run.
        seed: seeds weights, data order and dropout.

    Args:
        The attributes above, as keyword arguments; each is checked.

    Example:

    >>> DiagnoseConfig(seq_len=300, clip_cell="lstm").seq_len
    300
    """

    seq_len: int = 200
    units: int = 64
    batch_size: int = 32
    probe_examples: int = 8
    jacobian_examples: int = 4
    train_steps: int = 150
    clip_steps: int = 150
    clip_cell: str = "simple_rnn"
    clipnorm: float = 0.5
    clipvalue: float = 0.05
    global_clipnorm: float = 0.5
    seed: int = 1337

    def __post_init__(self):
        for name in ("seq_len", "units", "batch_size", "probe_examples", "jacobian_examples",
                     "train_steps", "clip_steps"):
            check_positive_int(name, getattr(self, name))
        if self.seq_len < 2:
            raise ValueError(f"`seq_len` must be at least 2. Received: seq_len={self.seq_len}")
        if self.clip_cell not in CELLS:
            raise ValueError(f"`clip_cell` must be one of {CELLS}. Received: clip_cell={self.clip_cell!r}")
        for name in ("clipnorm", "clipvalue", "global_clipnorm"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"`{name}` must be a number > 0. Received: {name}={value!r}")
