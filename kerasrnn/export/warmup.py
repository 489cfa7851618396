"""`assets.extra/tf_serving_warmup_requests`: requests TF Serving replays before taking traffic."""

import os

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from kerasrnn.serving.saved_model_layout import WARMUP_FILE



def prediction_log(model_name, signature_name, inputs, input_specs):
    """One `PredictionLog` holding a `PredictRequest` for `signature_name`.

    Args:
        model_name: the name TF Serving serves the model under.
        signature_name: the signature the request calls.
        inputs: `{input name: array-like}`.
        input_specs: `{input name: tf.TensorSpec}` giving each input's dtype.

    Example:

    >>> spec = {"text": tf.TensorSpec([None], tf.string)}
    >>> log = prediction_log("imdb", "serving_default", {"text": ["Great film!"]}, spec)
    >>> log.predict_log.request.inputs["text"].string_val
    [b'Great film!']
    """
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature_name)
    )
    for name, value in inputs.items():
        dtype = input_specs[name].dtype
        array = np.asarray(value, dtype=object if dtype == tf.string else dtype.as_numpy_dtype)
        request.inputs[name].CopyFrom(tf.make_tensor_proto(array, dtype=dtype))
    return prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))


def write_warmup_requests(saved_model_dir, model_name, endpoints):
    """Write one warmup request per signature into the SavedModel folder.

    Args:
        saved_model_dir: the version folder being written.
        model_name: the model's serving name.
        endpoints: the export's `Endpoint`s (each brings its warmup inputs).

    Returns:
        The path of the TFRecord file.

    Example:

    >>> write_warmup_requests("export/imdb/1", "imdb", endpoints)  # doctest: +SKIP
    'export/imdb/1/assets.extra/tf_serving_warmup_requests'
    """
    path = os.path.join(saved_model_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for endpoint in endpoints:
            specs = {spec.name: spec for spec in endpoint.input_signature}
            log = prediction_log(model_name, endpoint.name, endpoint.warmup_inputs, specs)
            writer.write(log.SerializeToString())
    return path
