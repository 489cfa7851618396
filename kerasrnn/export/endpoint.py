"""What one serving signature is made of, whatever the task."""

import dataclasses
from typing import Callable


@dataclasses.dataclass
class Endpoint:
    """One signature of an export: its name, its function, and how to call it.

    Attributes:
        name: the signature name (`"serving_default"`, `"generate"`, ...).
        fn: a `tf.function` taking named string/number tensors and returning
            a dict of named output tensors (the signature's outputs).
        input_signature: the `tf.TensorSpec`s of `fn`'s arguments, in order;
            each spec's name is the input's name in the signature.
        warmup_inputs: one realistic request, `{input name: array}`, written
            to `assets.extra/tf_serving_warmup_requests`.
        note: what a client must know to call it (padding, limits), shown in
            the embedded server's metadata and in the README.

    Example:

    >>> import tensorflow as tf
    >>> fn = tf.function(lambda text: {"length": tf.strings.length(text)})
    >>> spec = [tf.TensorSpec([None], tf.string, name="text")]
    >>> Endpoint("serving_default", fn, spec, {"text": ["hello"]}, "").name
    'serving_default'
    """

    name: str
    fn: Callable
    input_signature: list
    warmup_inputs: dict
    note: str
