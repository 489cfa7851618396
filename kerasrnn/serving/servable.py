"""One loaded model version: its signatures, their metadata, and running them."""

import json
import logging
import os
import re
import threading

import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.protobuf import saved_model_pb2

from kerasrnn.serving.batching import SignatureBatcher
from kerasrnn.serving.errors import ServingError, invalid_argument
from kerasrnn.serving.saved_model_layout import SAVED_MODEL_FILE, SIGNATURE_NOTES_FILE, WARMUP_FILE

log = logging.getLogger("kerasrnn.serving")
DEFAULT_SIGNATURE = "serving_default"
MAX_WARMUP_RECORDS = 1000  # TF Serving's limit


def _signature_def_protos(path):
    """The `SignatureDef` protos of `path/saved_model.pb`, by name."""
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(path, SAVED_MODEL_FILE), "rb") as file:
        saved_model.ParseFromString(file.read())
    return dict(saved_model.meta_graphs[0].signature_def)


def _signature_defs_json(signature_defs):
    """The SignatureDefs as TF Serving's metadata JSON shows them."""
    options = {"preserving_proto_field_name": True}
    try:
        return {
            name: json_format.MessageToDict(signature, always_print_fields_with_no_presence=True, **options)
            for name, signature in signature_defs.items()
        }
    except TypeError:  # protobuf < 5.26 named the option differently
        return {
            name: json_format.MessageToDict(signature, including_default_value_fields=True, **options)
            for name, signature in signature_defs.items()
        }


def _tensorflow_message(error):
    """The line of a TensorFlow runtime error a client can act on (e.g. a failed assertion)."""
    lines = [line.strip() for line in str(error.message).splitlines() if line.strip()]
    for line in lines:
        if line.startswith("assertion failed:"):
            # "assertion failed: [prompt must not be empty.  ] [Condition x > 0 ...]" → the message.
            found = re.match(r"assertion failed: \[(.*?)\]", line)
            return found.group(1).strip(" .") if found else line
    useful = [line for line in lines if not line.startswith(("[[", "Detected at", "<stack", "Graph execution"))]
    return useful[0] if useful else str(error.message)


class Signature:
    """A callable signature with its input and output specs.

    Args:
        function: the concrete function from `loaded.signatures[name]`.

    Example:

    >>> signature = Signature(tf.saved_model.load("export/imdb/1").signatures["serving_default"])  # doctest: +SKIP
    >>> signature.input_dtypes  # doctest: +SKIP
    {'text': 'string'}
    """

    def __init__(self, function):
        self.function = function
        _, keyword_specs = function.structured_input_signature
        self.inputs = dict(sorted(keyword_specs.items()))
        self.outputs = dict(sorted(function.structured_outputs.items()))
        self.input_dtypes = {name: spec.dtype.name for name, spec in self.inputs.items()}

    @property
    def batchable(self):
        """Whether every input and output has a leading batch dimension (so requests can be merged)."""
        specs = list(self.inputs.values()) + list(self.outputs.values())
        return all(spec.shape.rank and spec.shape[0] is None for spec in specs)

    def check_shapes(self, arrays, signature_name):
        """Raise a 400 if an input's rank or fixed dimensions differ from the signature's."""
        for name, spec in self.inputs.items():
            shape = arrays[name].shape
            expected = spec.shape
            if expected.rank is not None and (
                len(shape) != expected.rank
                or any(want is not None and want != got for want, got in zip(expected.as_list(), shape))
            ):
                wanted = [-1 if dim is None else dim for dim in expected.as_list()]
                raise invalid_argument(
                    f"Input '{name}' of signature '{signature_name}' must have shape {wanted} "
                    f"(-1: any size); received a tensor of shape {list(shape)}"
                )
            if expected.rank and shape[0] == 0:
                raise invalid_argument(f"Input '{name}' has an empty batch: send at least one row")

    def __call__(self, arrays):
        tensors = {name: tf.constant(arrays[name], dtype=spec.dtype) for name, spec in self.inputs.items()}
        try:
            outputs = self.function(**tensors)
        except tf.errors.InvalidArgumentError as error:
            raise invalid_argument(_tensorflow_message(error)) from None
        except tf.errors.OpError as error:
            raise ServingError("INTERNAL", _tensorflow_message(error)) from None
        return {name: np.asarray(value) for name, value in outputs.items()}


class Servable:
    """A SavedModel version loaded with `tf.saved_model.load`, ready to answer requests.

    Args:
        name: the model's serving name.
        version: the integer version.
        path: the version folder.

    Example:

    >>> servable = Servable("imdb", 1, "export/imdb/1")  # doctest: +SKIP
    >>> sorted(servable.signatures)  # doctest: +SKIP
    ['serving_default']
    """

    def __init__(self, name, version, path):
        self.name, self.version, self.path = name, version, path
        self.loaded = tf.saved_model.load(path)
        self.signatures = {key: Signature(function) for key, function in self.loaded.signatures.items()}
        self.signature_def_protos = _signature_def_protos(path)
        self.signature_defs = _signature_defs_json(self.signature_def_protos)
        notes_path = os.path.join(path, SIGNATURE_NOTES_FILE)
        self.notes = {}
        if os.path.isfile(notes_path):
            with open(notes_path, encoding="utf-8") as file:
                self.notes = json.load(file)
        self._batchers = {}
        self._lock = threading.Lock()
        self.retired = False

    def warm_up(self):
        """Replay `assets.extra/tf_serving_warmup_requests` as TF Serving does before serving a version.

        Each `PredictionLog` record holding a predict request is run once
        through its signature, so the first real requests find every function
        already traced and optimized. A record that fails fails the load, as
        in TF Serving. Returns the number of requests replayed.

        Example:

        >>> Servable("imdb", 1, "export/imdb/1").warm_up()  # doctest: +SKIP
        1
        """
        path = os.path.join(self.path, WARMUP_FILE)
        if not os.path.isfile(path):
            return 0
        from tensorflow_serving.apis import prediction_log_pb2

        replayed = 0
        for index, record in enumerate(tf.data.TFRecordDataset(path)):
            if index >= MAX_WARMUP_RECORDS:
                raise ValueError(f"{path}: more than {MAX_WARMUP_RECORDS} warmup records")
            entry = prediction_log_pb2.PredictionLog.FromString(record.numpy())
            if entry.WhichOneof("log_type") != "predict_log":
                log.warning("Skipping a %s warmup record of %s: only predict requests are replayed",
                            entry.WhichOneof("log_type"), path)
                continue
            request = entry.predict_log.request
            signature = self.signature(request.model_spec.signature_name)
            arrays = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
            missing = set(signature.inputs) - set(arrays)
            if missing:
                raise ValueError(f"{path}: warmup record {index} lacks inputs {sorted(missing)}")
            signature(arrays)
            replayed += 1
        return replayed

    def batcher(self, signature_name, batching):
        """The `SignatureBatcher` of one signature (made on first use); None once retired.

        Example:

        >>> servable.batcher("serving_default", {"max_batch_size": 32, "batch_timeout_s": 0.002})  # doctest: +SKIP
        <kerasrnn.serving.batching.SignatureBatcher object at ...>
        """
        with self._lock:
            if self.retired:
                return None
            batcher = self._batchers.get(signature_name)
            if batcher is None:
                batcher = self._batchers[signature_name] = SignatureBatcher(self.signature(signature_name), **batching)
            return batcher

    def retire(self):
        """Stop batching for this servable (it was unloaded or replaced); requests in flight still finish.

        Example:

        >>> servable.retire()  # doctest: +SKIP
        """
        with self._lock:
            self.retired = True
            batchers, self._batchers = list(self._batchers.values()), {}
        for batcher in batchers:
            batcher.close()

    def signature(self, signature_name):
        """The `Signature` called by a request's `signature_name` ("" means `serving_default`)."""
        key = signature_name or DEFAULT_SIGNATURE
        if key not in self.signatures:
            raise invalid_argument(f'Serving signature name: "{key}" not found in signature def')
        return self.signatures[key]

    def metadata(self):
        """The body of `GET /v1/models/NAME[/versions/N]/metadata`.

        Besides TF Serving's `signature_def`, `metadata.kerasrnn` carries the
        export's notes on each signature (e.g. how to pad token lists).
        """
        metadata = {"signature_def": {"signature_def": self.signature_defs}}
        if self.notes:
            metadata["kerasrnn"] = self.notes
        return {
            "model_spec": {"name": self.name, "signature_name": "", "version": str(self.version)},
            "metadata": metadata,
        }
