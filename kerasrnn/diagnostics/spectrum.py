"""The spectrum of each recurrent kernel: does repeated multiplication grow or shrink?"""

import numpy as np

from kerasrnn.diagnostics.unroll import check_supported, directions, recurrent_layers

# Keras lays the gate blocks of a recurrent kernel side by side along the
# last axis, in these orders (LSTMCell.call and GRUCell.call split them so).
GATES = {
    "SimpleRNNCell": ("kernel",),
    "LSTMCell": ("input", "forget", "cell", "output"),
    "GRUCell": ("update", "reset", "candidate"),
}


def matrix_spectrum(matrix):
    """Largest singular value and spectral radius (largest |eigenvalue|) of a square matrix.

    The singular value bounds how much one multiplication can stretch a
    vector; the spectral radius is the growth rate per step of many
    multiplications (‖W^k‖^(1/k) tends to it).

    Args:
        matrix: a square 2-D array.

    Returns:
        `{"max_singular_value": float, "spectral_radius": float}`.

    Example:

    >>> matrix_spectrum(np.array([[0.0, 2.0], [0.0, 0.0]]))
    {'max_singular_value': 2.0, 'spectral_radius': 0.0}
    """
    matrix = np.asarray(matrix, dtype="float64")
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"`matrix` must be square. Received shape {matrix.shape}.")
    return {
        "max_singular_value": float(np.linalg.norm(matrix, ord=2)),
        "spectral_radius": float(np.max(np.abs(np.linalg.eigvals(matrix)))),
    }


def recurrent_spectrum(model):
    """Per recurrent layer, direction and gate: the spectrum of the recurrent kernel.

    Keras computes `h_t @ recurrent_kernel`, so the matrix that multiplies
    the backpropagated gradient at each step is (the transpose of) each
    `units × units` gate block; its largest singular value and spectral
    radius decide, together with the activation's slope, whether the
    gradient vanishes (< 1) or explodes (> 1) over many steps.

    Args:
        model: a model with SimpleRNN, LSTM or GRU layers (plain or Bidirectional).

    Returns:
        A dict `{layer_name: {direction: {gate: {"max_singular_value", "spectral_radius"}}}}`,
        gates `kernel` (SimpleRNN), `input/forget/cell/output` (LSTM) or
        `update/reset/candidate` (GRU).

    Example:

    >>> from kerasrnn.tasks import build_char_lm
    >>> spectrum = recurrent_spectrum(build_char_lm(30, cell="gru", units=8, num_layers=1))
    >>> sorted(spectrum["gru_1"]["forward"])
    ['candidate', 'reset', 'update']
    >>> simple = recurrent_spectrum(build_char_lm(30, cell="simple_rnn", units=8, num_layers=1))
    >>> round(simple["simple_rnn_1"]["forward"]["kernel"]["max_singular_value"], 4)  # orthogonal init
    1.0

    Note that Keras' `orthogonal` initializer makes the whole `units × 4·units`
    (LSTM) or `units × 3·units` (GRU) kernel orthogonal by rows, so each gate
    block alone has singular values below 1.
    """
    result = {}
    for layer in recurrent_layers(model):
        check_supported(layer)
        result[layer.name] = {}
        for direction, rnn in directions(layer):
            kernel = np.asarray(rnn.cell.recurrent_kernel.numpy())
            gates = GATES[type(rnn.cell).__name__]
            units = kernel.shape[0]
            result[layer.name][direction] = {
                gate: matrix_spectrum(kernel[:, index * units : (index + 1) * units])
                for index, gate in enumerate(gates)
            }
    return result
