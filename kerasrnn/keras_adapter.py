"""The one place kerasrnn reaches into Keras' private modules.

- `get_keras_mask`: Keras keeps the padding mask of a prediction on the tensor itself and offers
no public accessor for it (Keras 3.15); its own metrics read it the same way.
- `backend_rnn`: the recurrent loop (masking, go_backwards, unroll) behind
  every Keras RNN layer, which `FastLSTM` and friends reuse.
- `tensorflow_trainer`: Keras' TensorFlow `fit` loop, whose module-level
  `reduce_per_replica` `kerasrnn.distribute.multi_worker_fit` corrects for
  several workers (keras-team/keras#20585).

If a Keras release moves it, this is the only import to update.

Example:

>>> import numpy as np
>>> get_keras_mask(np.zeros((2, 3))) is None
True
"""

from keras.src.backend import get_keras_mask
from keras.src.backend import rnn as backend_rnn  # the loop every Keras RNN runs; not under `keras.*`
from keras.src.backend.tensorflow import trainer as tensorflow_trainer  # `fit`'s per-step reductions

__all__ = ["backend_rnn", "get_keras_mask", "tensorflow_trainer"]
