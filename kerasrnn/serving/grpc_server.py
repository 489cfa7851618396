"""TF Serving's gRPC API over grpcio, with the protos of `tensorflow-serving-api`.

`PredictionService` (`Predict`, `GetModelMetadata`, and `Classify`,
`Regress`, `MultiInference` answered as TF Serving answers them for predict
signatures) and `ModelService` (`GetModelStatus`) run on the same
`ModelManager` as the REST API, with the same request budgets, so a TF
Serving client (`prediction_service_pb2_grpc.PredictionServiceStub`) gets
the same answers from either API.
"""

import concurrent.futures
import logging

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import any_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from kerasrnn.serving.errors import ServingError, invalid_argument
from kerasrnn.serving.limits import RequestLimits

log = logging.getLogger("kerasrnn.serving")

# tensorflow.error.Code values, as StatusProto.error_code carries them.
_ERROR_CODES = {"OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4,
                "NOT_FOUND": 5, "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9, "OUT_OF_RANGE": 11,
                "UNIMPLEMENTED": 12, "INTERNAL": 13, "UNAVAILABLE": 14}
_PREDICT_METHOD = "tensorflow/serving/predict"


def grpc_code(code):
    """The `grpc.StatusCode` of a canonical code name (413's PAYLOAD_TOO_LARGE → RESOURCE_EXHAUSTED).

    Example:

    >>> grpc_code("INVALID_ARGUMENT")
    <StatusCode.INVALID_ARGUMENT: (3, 'invalid argument')>
    """
    return getattr(grpc.StatusCode, code, grpc.StatusCode.RESOURCE_EXHAUSTED)


def _version_of(spec):
    if spec.version_label:
        raise invalid_argument(f"Unrecognized servable version label: {spec.version_label}")
    return spec.version.value if spec.HasField("version") else None


def _shape_of(name, proto):
    if proto.tensor_shape.unknown_rank:
        raise invalid_argument(f"Input '{name}' has an unknown rank: give its shape")
    shape = [dim.size for dim in proto.tensor_shape.dim]
    if any(size < 0 for size in shape):
        raise invalid_argument(f"Input '{name}' has a negative dimension: {shape}")
    return shape


class _Handlers:
    """The work behind both services; each method returns a response or raises `ServingError`."""

    def __init__(self, manager, limits):
        self.manager, self.limits = manager, limits

    def predict(self, request):
        spec = request.model_spec
        servable = self.manager.servable(spec.name, _version_of(spec))
        signature_name = spec.signature_name or "serving_default"
        signature = servable.signature(spec.signature_name)
        expected = set(signature.inputs)
        for name in request.inputs:
            if name not in expected:
                raise invalid_argument(f"input tensor alias not found in signature: {name}. Inputs expected to be "
                                       f"in the set {{{','.join(sorted(expected))}}}.")
        missing = expected - set(request.inputs)
        if missing:
            raise invalid_argument(f"Missing input(s) {','.join(sorted(missing))}: signature '{signature_name}' "
                                   f"expects {{{','.join(sorted(expected))}}}")
        # The budget, from the shapes alone: before any tensor is built.
        shapes, longest, max_lengths = {}, {}, None
        for name, proto in request.inputs.items():
            want = signature.inputs[name].dtype.as_datatype_enum
            if proto.dtype != want:
                raise invalid_argument(
                    f"Expects input '{name}' to be {tf.dtypes.as_dtype(want).name} but "
                    f"{tf.dtypes.as_dtype(proto.dtype).name if proto.dtype else 'an invalid type'} is provided")
            shapes[name] = _shape_of(name, proto)
            if len(shapes[name]) == 1 and proto.string_val:
                longest[name] = max(len(value.decode("utf-8", "replace")) for value in proto.string_val)
            if name == "max_length" and proto.int_val:
                max_lengths = np.asarray(proto.int_val)
        self.limits.check_shapes(shapes, longest, max_lengths)
        try:
            arrays = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        except (TypeError, ValueError) as error:
            raise invalid_argument(f"Malformed TensorProto: {error}") from None
        arrays = {name: np.asarray(array, dtype=object) if array.dtype.kind == "S" else array
                  for name, array in arrays.items()}
        signature.check_shapes(arrays, signature_name)
        self.limits.check(arrays)
        wanted = list(request.output_filter) or sorted(signature.outputs)
        for name in wanted:
            if name not in signature.outputs:
                raise invalid_argument(f"output tensor alias not found in signature: {name} Outputs expected to be "
                                       f"in the set {{{','.join(sorted(signature.outputs))}}}.")
        outputs = self.manager.predict(servable, spec.signature_name, arrays)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        response.model_spec.signature_name = signature_name
        for name in wanted:
            value = outputs[name]
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value, dtype=signature.outputs[name].dtype))
        return response

    def metadata(self, request):
        spec = request.model_spec
        servable = self.manager.servable(spec.name, _version_of(spec))
        fields = list(request.metadata_field)
        if not fields:
            raise invalid_argument("GetModelMetadataRequest must specify at least one metadata_field")
        for field in fields:
            if field != "signature_def":
                raise invalid_argument(f"Metadata field {field} is not supported")
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        signature_defs = get_model_metadata_pb2.SignatureDefMap()
        for name, proto in servable.signature_def_protos.items():
            signature_defs.signature_def[name].CopyFrom(proto)
        packed = any_pb2.Any()
        packed.Pack(signature_defs)
        response.metadata["signature_def"].CopyFrom(packed)
        return response

    def wrong_method(self, request, kind):
        spec = request.model_spec
        servable = self.manager.servable(spec.name, _version_of(spec))
        servable.signature(spec.signature_name)
        raise invalid_argument(f"Expected {kind} signature method_name to be tensorflow/serving/"
                               f"{'classify' if kind == 'classification' else 'regress'}. Was: {_PREDICT_METHOD}")

    def multi_inference(self, request):
        for task in request.tasks:
            spec = task.model_spec
            servable = self.manager.servable(spec.name, _version_of(spec))
            servable.signature(spec.signature_name)
        raise invalid_argument(f"Unsupported signature method_name: {_PREDICT_METHOD} (MultiInference runs "
                               "classify and regress signatures only)")

    def status(self, request):
        spec = request.model_spec
        body = self.manager.status(spec.name, _version_of(spec))
        response = get_model_status_pb2.GetModelStatusResponse()
        states = get_model_status_pb2.ModelVersionStatus.State
        for entry in body["model_version_status"]:
            status = response.model_version_status.add()
            status.version = int(entry["version"])
            status.state = states.Value(entry["state"])
            status.status.error_code = _ERROR_CODES.get(entry["status"]["error_code"], 2)
            status.status.error_message = entry["status"]["error_message"]
        return response


class _Servicer(prediction_service_pb2_grpc.PredictionServiceServicer, model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, handlers, executor, deadline_s):
        self.handlers, self.executor, self.deadline_s = handlers, executor, deadline_s

    def _answer(self, context, work, *args):
        remaining = context.time_remaining()
        timeout = self.deadline_s if remaining is None else min(self.deadline_s, max(remaining, 0.0))
        future = self.executor.submit(work, *args)
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED,
                          f"Deadline exceeded: no answer within {timeout:g} s (--request-timeout-seconds)")
        except ServingError as error:
            if error.http_status >= 500:
                log.error("gRPC %s: %s", getattr(work, "__name__", work), error.message)
            context.abort(grpc_code(error.code), error.message)
        except RecursionError:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Request nested too deeply")
        except MemoryError:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "Out of memory answering the request: send a smaller one")
        except Exception as error:  # a bug costs one request, never the server
            log.exception("Internal error answering a gRPC request")
            context.abort(grpc.StatusCode.INTERNAL, f"Internal error: {type(error).__name__}: {error}")

    def Predict(self, request, context):  # noqa: N802 (gRPC's naming)
        return self._answer(context, self.handlers.predict, request)

    def GetModelMetadata(self, request, context):  # noqa: N802
        return self._answer(context, self.handlers.metadata, request)

    def Classify(self, request, context):  # noqa: N802
        return self._answer(context, self.handlers.wrong_method, request, "classification")

    def Regress(self, request, context):  # noqa: N802
        return self._answer(context, self.handlers.wrong_method, request, "regression")

    def MultiInference(self, request, context):  # noqa: N802
        return self._answer(context, self.handlers.multi_inference, request)

    def GetModelStatus(self, request, context):  # noqa: N802
        return self._answer(context, self.handlers.status, request)

    def HandleReloadConfigRequest(self, request, context):  # noqa: N802
        context.abort(grpc.StatusCode.UNIMPLEMENTED,
                      "Reloading the model config is not supported: restart with the new --model_config_file")


class GrpcServer:
    """TF Serving's `PredictionService` and `ModelService` on `(host, port)`.

    Args:
        address: `(host, port)`; port 0 picks a free one (see `server_address`).
        manager: the `ModelManager` holding the models (shared with REST).
        limits: the `RequestLimits` of every request.
        max_message_bytes: the largest request message accepted.
        workers: threads answering RPCs.
        max_concurrent_rpcs: RPCs beyond this many at once get RESOURCE_EXHAUSTED.

    Example:

    >>> server = GrpcServer(("127.0.0.1", 0), manager)  # doctest: +SKIP
    >>> server.start()  # doctest: +SKIP
    >>> server.server_address  # doctest: +SKIP
    ('127.0.0.1', 41733)
    """

    def __init__(self, address, manager, limits=None, max_message_bytes=16 * 1024 * 1024, workers=32,
                 max_concurrent_rpcs=256):
        for name, value in (("max_message_bytes", max_message_bytes), ("workers", workers),
                            ("max_concurrent_rpcs", max_concurrent_rpcs)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        limits = limits or RequestLimits()
        self.executor = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="kerasrnn-grpc-work")
        self.server = grpc.server(
            concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="kerasrnn-grpc"),
            maximum_concurrent_rpcs=max_concurrent_rpcs,
            options=[
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", -1),
                ("grpc.max_connection_idle_ms", 5 * 60 * 1000),
                ("grpc.so_reuseport", 0),
            ],
        )
        servicer = _Servicer(_Handlers(manager, limits), self.executor, limits.deadline_s)
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(servicer, self.server)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(servicer, self.server)
        host, port = address
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        bound = self.server.add_insecure_port(target)
        if not bound:
            raise ValueError(f"Could not bind the gRPC API to {target}: is the port in use?")
        self.server_address = (host, bound)

    def start(self):
        """Start answering RPCs (in grpcio's threads).

        Example:

        >>> server.start()  # doctest: +SKIP
        """
        self.server.start()

    def wait(self):
        """Block until the server stops.

        Example:

        >>> server.wait()  # doctest: +SKIP
        """
        self.server.wait_for_termination()

    def stop(self, grace_s=5):
        """Stop accepting RPCs; those in flight get `grace_s` seconds to finish.

        Example:

        >>> server.stop(grace_s=1)  # doctest: +SKIP
        """
        self.server.stop(grace_s).wait()
        self.executor.shutdown(wait=False, cancel_futures=True)
