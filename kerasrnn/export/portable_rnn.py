"""Trace recurrent layers without cuDNN, so an export made on a GPU runs on a CPU server."""

import contextlib

_ABSENT = object()


@contextlib.contextmanager
def without_cudnn(model):
    """Within this block, every LSTM/GRU of `model` traces its portable kernel.

    On a GPU, Keras' LSTM and GRU with `use_cudnn="auto"` trace `CudnnRNN*`
    ops, which have no CPU kernel: TF Serving on a CPU machine could not run
    the export. On a CPU, `FastLSTM` would trace kerasrnn's fused custom op
    (`kerasrnn.kernels`), which TF Serving does not have either: its
    `use_fused_kernel` is switched off too. The weights are the same either
    way; only the traced ops differ.

    Args:
        model: a Keras model or layer; nested models and `Bidirectional`
            wrappers are searched.

    Example:

    >>> import keras
    >>> inputs = keras.Input((None, 3))
    >>> model = keras.Model(inputs, keras.layers.Bidirectional(keras.layers.LSTM(2))(inputs))
    >>> with without_cudnn(model):
    ...     model.layers[1].forward_layer.use_cudnn
    False
    >>> model.layers[1].forward_layer.use_cudnn
    'auto'
    """
    # Every tracked layer: Bidirectional keeps its two directions as attributes, not in `.layers`, and a
    # custom layer (the tagger's character encoder) keeps its own LSTMs. Imported here: the adapter pulls in Keras.
    from kerasrnn.keras_adapter import nested_layers

    saved = []
    for layer in nested_layers(model):
        for attribute in ("use_cudnn", "use_fused_kernel"):
            if hasattr(layer, attribute):
                # Kept in the instance's __dict__ or not, so the class default is restored as it was.
                saved.append((layer, attribute, layer.__dict__.get(attribute, _ABSENT)))
                setattr(layer, attribute, False)
    try:
        yield model
    finally:
        for layer, attribute, value in reversed(saved):
            if value is _ABSENT:
                layer.__dict__.pop(attribute, None)
            else:
                setattr(layer, attribute, value)
