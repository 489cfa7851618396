"""Gradient diagnostics: vanishing and exploding gradients, clipping, initialization.

- `gradient_flow(model, batch)`: ‖∂L/∂h_t‖ and ‖∂h_T/∂h_t‖ at every step.
- `recurrent_spectrum(model)`: singular value and spectral radius per gate.
- `GradientNormMonitor`: a `model.fit` callback recording gradient norms and clipping.
- `decay_rate(norms)`: the fitted log-slope per step back in time.
- `run_diagnosis` / `write_report`: the `kerasrnn diagnose` report.

Attributes are imported on first use, so the CLI's `--help` does not import TensorFlow.
"""

from kerasrnn.lazy_attributes import lazy_attributes

_PUBLIC = {
    "DirectionFlow": "kerasrnn.diagnostics.flow",
    "GradientFlow": "kerasrnn.diagnostics.flow",
    "decay_rate": "kerasrnn.diagnostics.flow",
    "gradient_flow": "kerasrnn.diagnostics.flow",
    "GradientNormMonitor": "kerasrnn.diagnostics.monitor",
    "matrix_spectrum": "kerasrnn.diagnostics.spectrum",
    "recurrent_spectrum": "kerasrnn.diagnostics.spectrum",
    "DiagnoseConfig": "kerasrnn.diagnostics.config",
    "run_diagnosis": "kerasrnn.diagnostics.experiments",
    "write_report": "kerasrnn.diagnostics.report",
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_attributes(__name__, _PUBLIC, globals())
