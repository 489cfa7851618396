"""TF Serving's gRPC API over grpcio, with the protos of `tensorflow-serving-api`.

`PredictionService` (`Predict`, `GetModelMetadata`, and `Classify`,
`Regress`, `MultiInference` answered as TF Serving answers them for predict
signatures) and `ModelService` (`GetModelStatus`, `HandleReloadConfigRequest`)
run on the same `ModelManager` as the REST API, with the same request
budgets, so a TF Serving client
(`prediction_service_pb2_grpc.PredictionServiceStub`) gets the same answers
from either API.

The server is grpcio's asyncio one, on its own event loop: a call waiting
for its request message costs a coroutine, not a thread, and is cut after
`--read-timeout-seconds`, so clients that send headers and then stall
cannot starve the others (grpcio's threaded server held one of its 32
threads per waiting call: 32 such calls stopped the API). Parsing, the
model and the answer's encoding run in a thread pool, at most
`max_concurrent_rpcs` calls at once, each within `--request-timeout-seconds`.
On shutdown (`begin_shutdown`) new calls are refused at once and the calls
in flight are answered, or get UNAVAILABLE when the grace ends.
"""

import asyncio
import collections
import concurrent.futures
import functools
import logging
import threading
import time

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_management_pb2,
    predict_pb2,
    regression_pb2,
)

from kerasrnn.serving.errors import ServingError, cannot_listen, invalid_argument
from kerasrnn.serving.limits import RequestLimits
from kerasrnn.serving.saved_model_layout import models_of_config_list
from kerasrnn.serving.shutdown import GraceTimer, StoppableServer, first_of

log = logging.getLogger("kerasrnn.serving")

# tensorflow.error.Code values, as StatusProto.error_code carries them.
_ERROR_CODES = {"OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4,
                "NOT_FOUND": 5, "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9, "OUT_OF_RANGE": 11,
                "UNIMPLEMENTED": 12, "INTERNAL": 13, "UNAVAILABLE": 14}
_PREDICT_METHOD = "tensorflow/serving/predict"
DEFAULT_READ_TIMEOUT_S = 30.0
DEFAULT_MAX_WAITING_CALLS = 1024


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


def _dtype_name(dtype):
    """A TensorProto's dtype for a message; a number TensorFlow does not know (999) is said to be invalid.

    Example:

    >>> _dtype_name(7), _dtype_name(999)
    ('string', 'an invalid type (DataType 999)')
    """
    try:
        return tf.dtypes.as_dtype(dtype).name if dtype else "an invalid type"
    except TypeError:
        return f"an invalid type (DataType {dtype})"


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
                    f"{_dtype_name(proto.dtype)} is provided")
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

    def reload_config(self, request):
        # TF Serving's ModelServiceImpl::HandleReloadConfigRequest → ServerCore::ReloadConfig.
        if request.config.WhichOneof("config") != "model_config_list":
            raise invalid_argument("ServerModelConfig type not supported by HandleReloadConfigRequest. Only "
                                   "ModelConfigList is currently supported")
        try:
            models = models_of_config_list(request.config.model_config_list)
        except ValueError as error:
            raise invalid_argument(str(error)) from None
        unavailable = self.manager.reload_config(models)
        if unavailable:
            raise ServingError("UNKNOWN", f"{len(unavailable)} model(s) did not become available: "
                                          f"{{{', '.join(unavailable)}}}")
        return model_management_pb2.ReloadConfigResponse()


class _Refused(Exception):
    """A call answered with a non-OK status: `code` (a `grpc.StatusCode`) and `message`."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


def _answer_in_thread(work, request_class, raw):
    """Parse the request message, run `work`, encode the answer: all off the event loop."""
    try:
        request = request_class.FromString(raw)
    except DecodeError as error:
        raise invalid_argument(f"Malformed {request_class.__name__} message: {error}") from None
    return work(request).SerializeToString()


class _Calls:
    """Every RPC's life on the event loop: its request message read under a deadline, then answered in a thread.

    grpcio reads a unary call's request message before calling its handler,
    and its threaded server holds a thread while it waits; here every method
    is registered as stream-unary, so the handler itself reads the message,
    as a coroutine (a stalled call costs no thread) and within
    `read_timeout_s` of the call's start.

    Args:
        handlers: the `_Handlers` doing the work.
        executor: the thread pool running it.
        limits: the `RequestLimits` (their `deadline_s` bounds each answer).
        read_timeout_s: how long a call may take to send its request message.
        max_concurrent_rpcs: calls answered at once (their message received);
            more get RESOURCE_EXHAUSTED.
        max_waiting_calls: calls waiting for their request message at once;
            a new call beyond this cuts the one that has waited longest.
    """

    def __init__(self, handlers, executor, limits, read_timeout_s, max_concurrent_rpcs, max_waiting_calls):
        self.handlers, self.executor, self.deadline_s = handlers, executor, limits.deadline_s
        self.read_timeout_s = read_timeout_s
        self.max_concurrent_rpcs, self.max_waiting_calls = max_concurrent_rpcs, max_waiting_calls
        self.waiting = collections.OrderedDict()  # call → (time it started, future set when it is cut)
        self.answering = 0
        self.computing = set()  # the executor's futures not done yet (the server's `busy`)
        self.grace = None  # the GraceTimer, made on the event loop

    def generic_handlers(self):
        """grpcio handlers for every method of `PredictionService` and `ModelService`."""
        handlers = self.handlers

        def method(request_class, work):
            async def handle(requests, context):
                return await self.answer(request_class, work, requests, context)

            return grpc.stream_unary_rpc_method_handler(handle)  # bytes in, bytes out: parsed in a thread

        services = {
            "tensorflow.serving.PredictionService": {
                "Predict": method(predict_pb2.PredictRequest, handlers.predict),
                "GetModelMetadata": method(get_model_metadata_pb2.GetModelMetadataRequest, handlers.metadata),
                "Classify": method(classification_pb2.ClassificationRequest,
                                   functools.partial(handlers.wrong_method, kind="classification")),
                "Regress": method(regression_pb2.RegressionRequest,
                                  functools.partial(handlers.wrong_method, kind="regression")),
                "MultiInference": method(inference_pb2.MultiInferenceRequest, handlers.multi_inference),
            },
            "tensorflow.serving.ModelService": {
                "GetModelStatus": method(get_model_status_pb2.GetModelStatusRequest, handlers.status),
                "HandleReloadConfigRequest": method(model_management_pb2.ReloadConfigRequest, handlers.reload_config),
            },
        }
        return [grpc.method_handlers_generic_handler(name, methods) for name, methods in services.items()]

    async def answer(self, request_class, work, requests, context):
        try:
            raw = await self._read_request(requests)
            return await self._answer(request_class, work, raw, context)
        except _Refused as refusal:
            await context.abort(refusal.code, refusal.message)

    async def _read_request(self, requests):
        cut = asyncio.get_running_loop().create_future()
        if len(self.waiting) >= self.max_waiting_calls:
            # The call that has waited longest is the likeliest to be stalled:
            # cutting it, rather than refusing the new one, keeps stalled
            # calls from locking everyone else out.
            _, (started, oldest) = self.waiting.popitem(last=False)
            oldest.set_result(ServingError("RESOURCE_EXHAUSTED", (
                f"Request message not received after {time.monotonic() - started:.1f} s while "
                f"{self.max_waiting_calls} calls were waiting for theirs (the server's limit): the call that "
                "waited longest is cut")))
        token = object()
        self.waiting[token] = (time.monotonic(), cut)
        try:
            return await first_of(requests.__anext__(), self.read_timeout_s, cut, self.grace.over)
        except asyncio.TimeoutError:
            raise _Refused(grpc.StatusCode.DEADLINE_EXCEEDED, (
                f"Request message not received within {self.read_timeout_s:g} s of the call's start "
                "(--read-timeout-seconds)")) from None
        except StopAsyncIteration:
            raise _Refused(grpc.StatusCode.INVALID_ARGUMENT, "The call ended without a request message") from None
        except ServingError as error:
            raise _Refused(grpc_code(error.code), error.message) from None
        finally:
            self.waiting.pop(token, None)

    async def _answer(self, request_class, work, raw, context):
        if self.answering >= self.max_concurrent_rpcs:
            raise _Refused(grpc.StatusCode.RESOURCE_EXHAUSTED, (
                f"Too many concurrent RPCs: the server answers {self.max_concurrent_rpcs} at once"))
        remaining = context.time_remaining()
        timeout = self.deadline_s if remaining is None else min(self.deadline_s, max(remaining, 0.0))
        self.answering += 1
        try:
            future = self.executor.submit(_answer_in_thread, work, request_class, raw)
            self.computing.add(future)
            future.add_done_callback(self.computing.discard)
            # Past the deadline or the grace, the wrapper is cancelled, and
            # with it the work if it has not started.
            return await first_of(asyncio.wrap_future(future), timeout, self.grace.over)
        except asyncio.TimeoutError:
            raise _Refused(grpc.StatusCode.DEADLINE_EXCEEDED,
                           f"Deadline exceeded: no answer within {timeout:g} s (--request-timeout-seconds)") from None
        except ServingError as error:
            if error.http_status >= 500 and error.code != "UNAVAILABLE":
                log.error("gRPC %s: %s", request_class.__name__, error.message)
            raise _Refused(grpc_code(error.code), error.message) from None
        except RecursionError:
            raise _Refused(grpc.StatusCode.INVALID_ARGUMENT, "Request nested too deeply") from None
        except MemoryError:
            raise _Refused(grpc.StatusCode.RESOURCE_EXHAUSTED,
                           "Out of memory answering the request: send a smaller one") from None
        except Exception as error:  # a bug costs one request, never the server
            log.exception("Internal error answering a gRPC request")
            raise _Refused(grpc.StatusCode.INTERNAL, f"Internal error: {type(error).__name__}: {error}") from None
        finally:
            self.answering -= 1


class GrpcServer(StoppableServer):
    """TF Serving's `PredictionService` and `ModelService` on `(host, port)`, on grpcio's asyncio server.

    The server runs on its own event loop in a thread; the port is bound
    when the object is made. Calls that stall before sending their request
    message cost no thread and are cut after `read_timeout_s`, so they cannot
    starve the other clients (grpcio's threaded server gave each waiting call
    one of its threads: 32 stalled calls stopped the API).

    Args:
        address: `(host, port)`; port 0 picks a free one (see `server_address`).
        manager: the `ModelManager` holding the models (shared with REST).
        limits: the `RequestLimits` of every request.
        max_message_bytes: the largest request message accepted.
        workers: threads answering RPCs (parsing, the model, encoding).
        max_concurrent_rpcs: calls answered at once; more get RESOURCE_EXHAUSTED.
        read_timeout_s: how long a call may take to send its request message
            (then DEADLINE_EXCEEDED).
        max_waiting_calls: calls waiting for their request message at once;
            a new call beyond this cuts the one that has waited longest.

    Example:

    >>> server = GrpcServer(("127.0.0.1", 0), manager)  # doctest: +SKIP
    >>> server.start()  # doctest: +SKIP
    >>> server.server_address  # doctest: +SKIP
    ('127.0.0.1', 41733)
    """

    def __init__(self, address, manager, limits=None, max_message_bytes=16 * 1024 * 1024, workers=32,
                 max_concurrent_rpcs=256, read_timeout_s=DEFAULT_READ_TIMEOUT_S,
                 max_waiting_calls=DEFAULT_MAX_WAITING_CALLS):
        for name, value in (("max_message_bytes", max_message_bytes), ("workers", workers),
                            ("max_concurrent_rpcs", max_concurrent_rpcs), ("max_waiting_calls", max_waiting_calls)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        if not (isinstance(read_timeout_s, (int, float)) and read_timeout_s > 0):
            raise ValueError(f"`read_timeout_s` must be a positive number of seconds. Received: {read_timeout_s!r}")
        limits = limits or RequestLimits()
        self.executor = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="kerasrnn-grpc-work")
        self.calls = _Calls(_Handlers(manager, limits), self.executor, limits, float(read_timeout_s),
                            max_concurrent_rpcs, max_waiting_calls)
        self.computing = self.calls.computing
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="kerasrnn-grpc", daemon=True)
        self._thread.start()
        self._stopping = None
        self.stopped = threading.Event()
        host, port = address
        try:
            self.server, bound = self._on_loop(self._bind(host, port, max_message_bytes))
        except BaseException:
            self._close_loop()
            raise
        self.server_address = (host, bound)

    def _on_loop(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    async def _bind(self, host, port, max_message_bytes):
        self.calls.grace = GraceTimer(self.loop)
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", -1),
                ("grpc.max_connection_idle_ms", 5 * 60 * 1000),
                ("grpc.so_reuseport", 0),
            ],
        )
        server.add_generic_rpc_handlers(self.calls.generic_handlers())
        refusal = cannot_listen("gRPC", host, port)
        if refusal is not None:
            raise refusal
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            bound = server.add_insecure_port(target)
        except RuntimeError:  # grpcio 1.85 raises "Failed to bind" where older ones returned 0
            bound = 0
        if not bound:  # taken between the probe and grpcio's bind
            raise cannot_listen("gRPC", host, port) or ValueError(f"Cannot serve the gRPC API on {host}:{port}")
        return server, bound

    def start(self):
        """Start answering RPCs.

        Example:

        >>> server.start()  # doctest: +SKIP
        """
        self._on_loop(self.server.start())

    def wait(self):
        """Block until the server stops.

        Example:

        >>> server.wait()  # doctest: +SKIP
        """
        while not self.stopped.wait(0.5):
            pass

    @property
    def in_flight(self):
        """How many calls are open now (waiting for their request message, or being answered).

        Example:

        >>> server.in_flight  # doctest: +SKIP
        0
        """
        return len(self.calls.waiting) + self.calls.answering

    def _shut_down(self, deadline, message):
        # grpcio refuses new calls at once (GOAWAY); at the deadline the
        # calls still in flight answer UNAVAILABLE themselves.
        self.calls.grace.end_at(deadline, message)
        if self._stopping is None:
            self._stopping = self.loop.create_task(self._stop(deadline))

    async def _stop(self, deadline):
        # At the deadline every call still in flight answers UNAVAILABLE
        # itself; the extra second lets those answers out before grpcio
        # cancels whatever is left.
        await self.server.stop(max(0.0, deadline - time.monotonic()) + 1.0)
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.stopped.set()
        self.loop.stop()

    def _close_loop(self):
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)

    def server_close(self):
        """Release the port and the event loop's thread, stopping at once if still serving.

        Example:

        >>> server.server_close()  # doctest: +SKIP
        """
        if not self.stopped.is_set():
            self.begin_shutdown(time.monotonic(), "Server closed")
            self.stopped.wait(5)
        self._close_loop()

    def stop(self, grace_s=5):
        """Stop accepting RPCs; those in flight get `grace_s` seconds to finish, then UNAVAILABLE.

        Example:

        >>> server.stop(grace_s=1)  # doctest: +SKIP
        """
        self.stop_within(grace_s)
