"""Gradient diagnostics: vanishing and exploding gradients, clipping, initialization.

- `gradient_flow(model, batch)`: ‖∂L/∂h_t‖ and ‖∂h_T/∂h_t‖ at every step.
- `recurrent_spectrum(model)`: singular value and spectral radius per gate.
- `GradientNormMonitor`: a `model.fit` callback recording gradient norms and clipping.
- `decay_rate(norms)`: the fitted log-slope per step back in time.
- `kerasrnn.diagnostics.report` / `experiments`: the `kerasrnn diagnose` report.
"""

from kerasrnn.diagnostics.gradient_flow import DirectionFlow, GradientFlow, decay_rate, gradient_flow
from kerasrnn.diagnostics.monitor import GradientNormMonitor
from kerasrnn.diagnostics.spectrum import matrix_spectrum, recurrent_spectrum

__all__ = [
    "DirectionFlow",
    "GradientFlow",
    "GradientNormMonitor",
    "decay_rate",
    "gradient_flow",
    "matrix_spectrum",
    "recurrent_spectrum",
]
