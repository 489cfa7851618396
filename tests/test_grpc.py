"""TF Serving's gRPC API: a stock `PredictionServiceStub` gets the same answers as REST."""

import socket
import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

import tiny_exports as tiny
from kerasrnn.serving.grpc_server import GrpcServer
from kerasrnn.serving.limits import RequestLimits
from test_serving_abuse import StubManager
from test_serving_lifecycle import ServeProcess, export_root  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def server(export_root):  # noqa: F811
    running = ServeProcess("--model-config-file", export_root / "models.config", "--port", 0, "--grpc-port", 0,
                           "--enable-batching", "--file-system-poll-wait-seconds", 0)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def stubs(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.ports['grpc']}")
    yield (prediction_service_pb2_grpc.PredictionServiceStub(channel),
           model_service_pb2_grpc.ModelServiceStub(channel))
    channel.close()


def _predict(stub, model, signature="", version=None, **inputs):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    response = stub.Predict(request, timeout=60)
    return response, {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


def _texts(array):
    return [value.decode() if isinstance(value, bytes) else _texts(value) for value in array]


def test_predict_matches_rest_for_every_task(server, stubs):
    prediction, _ = stubs
    reviews = list(tiny.real_reviews())
    response, outputs = _predict(prediction, "imdb", text=reviews)
    _, rest = server.post("/v1/models/imdb:predict", {"instances": reviews})
    np.testing.assert_allclose(outputs["probabilities"], [row["probabilities"] for row in rest["predictions"]],
                               atol=1e-6)
    assert _texts(outputs["label"]) == [row["label"] for row in rest["predictions"]]
    assert (response.model_spec.name, response.model_spec.version.value, response.model_spec.signature_name) == (
        "imdb", 1, "serving_default")

    sentences = tiny.padded(tiny.real_sentences())
    _, outputs = _predict(prediction, "ewt", tokens=np.array(sentences, dtype=object))
    _, rest = server.post("/v1/models/ewt:predict", {"instances": sentences})
    assert _texts(outputs["tags"]) == [row["tags"] for row in rest["predictions"]]

    generate = {"prompt": ["To be"], "max_length": np.array([30], "int32"),
                "temperature": np.array([0.8], "float32"), "seed": np.array([3], "int64")}
    _, outputs = _predict(prediction, "shakespeare", "generate", **generate)
    _, rest = server.post("/v1/models/shakespeare:predict", {"signature_name": "generate", "instances": [
        {"prompt": "To be", "max_length": 30, "temperature": 0.8, "seed": 3}]})
    assert _texts(outputs["text"]) == rest["predictions"]


def test_metadata_and_status_match_rest(server, stubs):
    prediction, model_service = stubs
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "ewt"
    response = prediction.GetModelMetadata(request, timeout=30)
    signature_defs = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signature_defs)
    _, rest = server.get("/v1/models/ewt/metadata")
    rest_defs = rest["metadata"]["signature_def"]["signature_def"]
    assert set(signature_defs.signature_def) == set(rest_defs)
    for name, proto in signature_defs.signature_def.items():
        assert set(proto.inputs) == set(rest_defs[name]["inputs"])
        assert set(proto.outputs) == set(rest_defs[name]["outputs"])
        assert proto.method_name == rest_defs[name]["method_name"]

    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "imdb"
    [status] = model_service.GetModelStatus(request, timeout=30).model_version_status
    assert (status.version, status.state, status.status.error_code) == (
        1, get_model_status_pb2.ModelVersionStatus.AVAILABLE, 0)


def _error(call, *args):
    with pytest.raises(grpc.RpcError) as raised:
        call(*args, timeout=30)
    return raised.value.code(), raised.value.details()


def test_errors_match_rest(server, stubs):
    prediction, model_service = stubs
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "nosuchmodel"
    request.inputs["text"].CopyFrom(tf.make_tensor_proto(["a"]))
    assert _error(prediction.Predict, request) == (
        grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(nosuchmodel)")

    request.model_spec.name = "shakespeare"
    request.inputs["text"].CopyFrom(tf.make_tensor_proto(["e" * 10_000] + ["a"] * 499))
    code, message = _error(prediction.Predict, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "--max-request-cells" in message
    _, rest = server.post("/v1/models/shakespeare:predict", {"instances": ["e" * 10_000] + ["a"] * 499})
    assert rest["error"] == message

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "imdb"
    request.inputs["text"].CopyFrom(tf.make_tensor_proto([1.5]))
    code, message = _error(prediction.Predict, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "Expects input 'text' to be string" in message

    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.name = "imdb"
    code, message = _error(prediction.Classify, classify)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and message.startswith(
        "Expected classification signature method_name to be tensorflow/serving/classify. "
        "Was: tensorflow/serving/predict")
    regress = regression_pb2.RegressionRequest()
    regress.model_spec.name = "imdb"
    assert _error(prediction.Regress, regress)[0] == grpc.StatusCode.INVALID_ARGUMENT

    status = get_model_status_pb2.GetModelStatusRequest()
    status.model_spec.name = "imdb"
    status.model_spec.version.value = 9
    assert _error(model_service.GetModelStatus, status) == (
        grpc.StatusCode.NOT_FOUND, "Could not find version 9 of model imdb")


def _text_request(model, texts):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.inputs["text"].CopyFrom(tf.make_tensor_proto(texts))
    return request


def test_a_tensor_with_an_unknown_dtype_is_invalid_argument(stubs):
    prediction, _ = stubs
    request = _text_request("imdb", ["Great film!"])
    request.inputs["text"].dtype = 999  # no DataType has this number
    assert _error(prediction.Predict, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "Expects input 'text' to be string but an invalid type (DataType 999) is provided")


def _stalled_calls(port, count):
    """`count` Predict calls that send their headers, then never their request message (until `release` is set)."""
    release = threading.Event()

    def never_sent():
        release.wait()
        yield from ()

    channels = [grpc.insecure_channel(f"127.0.0.1:{port}") for _ in range(4)]
    calls = [channels[index % 4].stream_unary("/tensorflow.serving.PredictionService/Predict",
                                              request_serializer=predict_pb2.PredictRequest.SerializeToString,
                                              response_deserializer=predict_pb2.PredictResponse.FromString)
             .future(never_sent(), timeout=60) for index in range(count)]
    return calls, release, channels


def _outcomes(calls):
    outcomes = []
    for call in calls:
        try:
            call.result(timeout=30)
            outcomes.append(("OK", None))
        except grpc.RpcError as error:
            outcomes.append((error.code(), error.details()))
    return outcomes


def test_stalled_grpc_calls_are_cut_and_never_starve_other_clients(export_root):  # noqa: F811
    running = ServeProcess("--model-base-path", export_root / "imdb", "--port", 0, "--grpc-port", 0,
                           "--read-timeout-seconds", 2, "--file-system-poll-wait-seconds", 0)
    try:
        started = time.monotonic()
        stalled, release, channels = _stalled_calls(running.ports["grpc"], 64)  # twice grpcio's 32 threads
        time.sleep(0.5)
        with grpc.insecure_channel(f"127.0.0.1:{running.ports['grpc']}") as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            answered = time.monotonic()
            # Before: DEADLINE_EXCEEDED, every one of grpcio's threads held by a stalled call.
            response = stub.Predict(_text_request("imdb", ["Great film!"]), timeout=5)
            answered = time.monotonic() - answered
        assert not any(call.done() for call in stalled)
        assert set(response.outputs) == {"label", "probabilities"} and answered < 1.5
        outcomes = _outcomes(stalled)
        cut_after = time.monotonic() - started
        release.set()
        for channel in channels:
            channel.close()
    finally:
        running.stop()
    assert outcomes == [(grpc.StatusCode.DEADLINE_EXCEEDED, "Request message not received within 2 s of the call's "
                                                            "start (--read-timeout-seconds)")] * 64
    assert cut_after < 6


def test_past_max_waiting_calls_the_longest_waiting_call_is_cut():
    server = GrpcServer(("127.0.0.1", 0), StubManager(), read_timeout_s=30, max_waiting_calls=8)
    server.start()
    try:
        stalled, release, channels = _stalled_calls(server.server_address[1], 20)
        deadline = time.monotonic() + 10
        while sum(call.done() for call in stalled) < 12 and time.monotonic() < deadline:
            time.sleep(0.05)  # 8 wait, 12 were cut to let the later ones in
        with grpc.insecure_channel(f"127.0.0.1:{server.server_address[1]}") as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            answer = stub.Predict(_text_request("stub", ["abc"]), timeout=5)
            assert list(tf.make_ndarray(answer.outputs["length"])) == [3]
        deadline = time.monotonic() + 10
        while sum(call.done() for call in stalled) < 13 and time.monotonic() < deadline:
            time.sleep(0.05)  # the answered call cut one more on its way in
        server.stop(0)  # the 7 still waiting get UNAVAILABLE
        outcomes = _outcomes(stalled)
        release.set()
        for channel in channels:
            channel.close()
    finally:
        server.stop(0)
    codes = [code for code, _ in outcomes]
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == 13 and codes.count(grpc.StatusCode.UNAVAILABLE) == 7
    assert all("8 calls were waiting for theirs (the server's limit)" in message
               for code, message in outcomes if code == grpc.StatusCode.RESOURCE_EXHAUSTED)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_tf_serving_command_line_starts_the_server_unchanged(export_root, tmp_path):  # noqa: F811
    batching = tmp_path / "batching.config"
    batching.write_text("max_batch_size { value: 16 }\nbatch_timeout_micros { value: 1000 }\n"
                        "num_batch_threads { value: 4 }\n")
    grpc_port, rest_port = _free_port(), _free_port()
    running = ServeProcess(f"--port={grpc_port}", f"--rest_api_port={rest_port}",
                           f"--model_base_path={export_root / 'imdb'}", "--model_name=reviews", "--enable_batching",
                           f"--batching_parameters_file={batching}", "--file_system_poll_wait_seconds=1")
    try:
        assert running.ports == {"rest": rest_port, "grpc": grpc_port}
        status, rest = running.post("/v1/models/reviews:predict", {"instances": ["Great film!"]})
        assert status == 200
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            _, outputs = _predict(stub, "reviews", text=["Great film!"])
        np.testing.assert_allclose(outputs["probabilities"][0], rest["predictions"][0]["probabilities"], atol=1e-6)
    finally:
        running.stop()


def test_grpc_requests_past_the_deadline_get_deadline_exceeded():
    server = GrpcServer(("127.0.0.1", 0), StubManager(delay_s=3.0), limits=RequestLimits(deadline_s=0.5))
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.server_address[1]}") as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            request = _text_request("stub", ["abc"])
            started = time.monotonic()
            code, message = _error(stub.Predict, request)
            assert code == grpc.StatusCode.DEADLINE_EXCEEDED and "--request-timeout-seconds" in message
            assert time.monotonic() - started < 2.5
            request.inputs["text"].CopyFrom(tf.make_tensor_proto([""] * 5000))
            code, message = _error(stub.Predict, request)
            assert code == grpc.StatusCode.INVALID_ARGUMENT and "--max-request-rows" in message
    finally:
        server.stop(0)
