"""Layers and layer stacks shared by the task builders."""

from kerasrnn.layers.label_names import LabelNames
from kerasrnn.layers.recurrent_stack import CELLS, recurrent_stack, resolve_initializer

__all__ = ["CELLS", "LabelNames", "recurrent_stack", "resolve_initializer"]
