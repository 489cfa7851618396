"""Optional fused C++ TensorFlow ops, compiled on first use; every caller has a pure-Keras fallback.

Example:

>>> from kerasrnn.kernels import load_lstm_ops
>>> load_lstm_ops() is None or hasattr(load_lstm_ops(), "kerasrnn_lstm_forward")
True
"""

from kerasrnn.kernels.lstm_op import fused_lstm, load_lstm_ops, unavailable_reason
from kerasrnn.kernels.lstm_onednn_op import load_onednn_lstm_ops, onednn_lstm, onednn_unavailable_reason
from kerasrnn.kernels.gru_onednn_op import (load_onednn_rnn_ops, onednn_gru, onednn_rnn_unavailable_reason,
                                            onednn_simple_rnn)

__all__ = ["fused_lstm", "load_lstm_ops", "load_onednn_lstm_ops", "load_onednn_rnn_ops", "onednn_gru", "onednn_lstm",
           "onednn_rnn_unavailable_reason", "onednn_simple_rnn", "onednn_unavailable_reason", "unavailable_reason"]
