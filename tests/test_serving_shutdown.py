"""Stopping `kerasrnn serve` with requests in flight, and starting it on a port in use: real processes, real signals.

Each test starts `python -m kerasrnn.cli serve` on a tiny real export and
puts real `generate` calls in flight over REST and gRPC (32 rows of 2,000
steps take about a second each on a busy CPU) before the signal:

* SIGTERM: no new connection is accepted, every request in flight is
  answered, the process exits 0 before the grace ends;
* SIGINT with a 1 s grace: every request still unanswered gets a JSON 503 /
  gRPC UNAVAILABLE naming `--shutdown-grace-seconds`, and the process exits
  0 at once instead of computing answers nobody will receive;
* a second signal ends the grace at once (`slow`);
* a port in use is one line and exit 2, before any model is loaded.
"""

import http.client
import json
import signal
import socket
import subprocess
import sys
import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

import tiny_exports as tiny
from kerasrnn.export import export_for_serving
from test_serving_lifecycle import ServeProcess


@pytest.fixture(scope="module")
def shakespeare(tmp_path_factory):
    base_path = tmp_path_factory.mktemp("export") / "shakespeare"
    export_for_serving(tiny.trained_model("char_lm"), base_path)
    return base_path


def _serve(base_path, *options):
    return ServeProcess("--model-base-path", base_path, "--port", 0, "--grpc-port", 0,
                        "--file-system-poll-wait-seconds", 0, *options)


class _Calls:
    """`count` REST and `count` gRPC `generate` calls of `rows` rows, each in its own thread; `results` fills in."""

    def __init__(self, ports, rows, count=8):
        self.ports, self.results = ports, []
        instance = {"prompt": "T", "max_length": 2000, "temperature": 1.0, "seed": 1}
        self.body = json.dumps({"signature_name": "generate", "instances": [instance] * rows}).encode()
        self.request = predict_pb2.PredictRequest()
        self.request.model_spec.name, self.request.model_spec.signature_name = "shakespeare", "generate"
        inputs = {"prompt": np.array(["T"] * rows), "max_length": np.full(rows, 2000, "int32"),
                  "temperature": np.ones(rows, "float32"), "seed": np.ones(rows, "int64")}
        for name, value in inputs.items():
            self.request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
        self.channel = grpc.insecure_channel(f"127.0.0.1:{ports['grpc']}")
        self.threads = [threading.Thread(target=call) for call in [self._rest] * count + [self._grpc] * count]
        for thread in self.threads:
            thread.start()

    def _rest(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.ports["rest"], timeout=60)
        try:
            connection.request("POST", "/v1/models/shakespeare:predict", body=self.body)
            response = connection.getresponse()
            self.results.append(("REST", response.status, response.getheader("content-type"),
                                 json.loads(response.read()).get("error")))
        except (OSError, http.client.HTTPException) as error:
            self.results.append(("REST", "no answer", type(error).__name__, str(error)))
        finally:
            connection.close()

    def _grpc(self):
        stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        try:
            stub.Predict(self.request, timeout=60)
            self.results.append(("gRPC", "OK", None, None))
        except grpc.RpcError as error:
            self.results.append(("gRPC", error.code().name, None, error.details()))

    def join(self):
        for thread in self.threads:
            thread.join(60)
        self.channel.close()
        return sorted(self.results, key=str)


def _stop(running, signals, between_s=0.0):
    """Send `signals` (one by one, `between_s` apart); returns (exit status, seconds from the first to the exit)."""
    started = time.monotonic()
    for number in signals:
        running.process.send_signal(number)
        time.sleep(between_s)
    status = running.process.wait(timeout=60)
    return status, time.monotonic() - started


def _refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def _answered(results, message):
    """Every call got an answer: 200 / OK, or a JSON 503 / UNAVAILABLE saying `message`; returns the refusals."""
    refused = []
    for api, status, content_type, error in results:
        if (api, status) in (("REST", 200), ("gRPC", "OK")):
            continue
        assert (status, content_type if api == "REST" else None, error) == (
            503 if api == "REST" else "UNAVAILABLE", "application/json" if api == "REST" else None, message)
        refused.append(api)
    return refused


def _in_flight_when_stopped(log, reason, grace):
    prefix, suffix = f"{reason}: no new requests; the ", f" in flight get up to {grace} s (--shutdown-grace-seconds)"
    [line] = [line for line in log if prefix in line]
    return int(line.split(prefix)[1].split(suffix)[0])


def test_sigterm_answers_every_request_in_flight_then_exits_0(shakespeare):
    running = _serve(shakespeare, "--shutdown-grace-seconds", 30)
    try:
        calls = _Calls(running.ports, rows=8, count=4)  # 8 rows, not 2: with 2 rows on idle cores (CI) the calls had finished before the signal
        time.sleep(1.0)  # the calls are received and computing
        started = time.monotonic()
        running.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        refused_while_answering = _refused(running.ports["rest"]), running.process.poll() is None
        status, took = running.process.wait(timeout=60), time.monotonic() - started
    finally:
        running.stop()
    results = calls.join()
    assert refused_while_answering == (True, True)  # no new connection, the old ones still answered
    assert results == [("REST", 200, "application/json", None)] * 4 + [("gRPC", "OK", None, None)] * 4
    assert status == 0 and took < 30
    assert _in_flight_when_stopped(running.log, "SIGTERM", 30) > 0
    assert "Traceback" not in "".join(running.log)


def test_sigint_past_the_grace_answers_503_and_unavailable_then_exits_0_at_once(shakespeare):
    running = _serve(shakespeare, "--shutdown-grace-seconds", 1)
    try:
        calls = _Calls(running.ports, rows=32, count=4)  # 8 calls of about 1.3 s each, alone
        time.sleep(1.0)
        status, took = _stop(running, [signal.SIGINT])
    finally:
        running.stop()
    refused = _answered(calls.join(), "Server shutting down: the request was not answered within the 1 s grace "
                                      "(--shutdown-grace-seconds)")
    assert {"REST", "gRPC"} <= set(refused)
    assert status == 0 and took < 4  # the abandoned model calls are not waited for
    assert _in_flight_when_stopped(running.log, "SIGINT", 1) > 0
    assert "Traceback" not in "".join(running.log)


@pytest.mark.slow  # a third server start: about 10 s on 2 busy cores
def test_a_second_signal_ends_the_grace_at_once(shakespeare):
    running = _serve(shakespeare, "--shutdown-grace-seconds", 60)
    try:
        calls = _Calls(running.ports, rows=32, count=2)
        time.sleep(1.0)
        status, took = _stop(running, [signal.SIGTERM, signal.SIGINT], between_s=0.5)
    finally:
        running.stop()
    refused = _answered(calls.join(), "Server shutting down: stopped again (SIGINT) before the request was answered")
    assert refused and status == 0 and took < 4


@pytest.mark.parametrize("api", ["REST", "gRPC"])
def test_a_port_in_use_is_one_line_and_exit_2_before_any_model_loads(shakespeare, api):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        flag = "--port" if api == "REST" else "--grpc-port"
        other = "--grpc-port" if api == "REST" else "--port"
        finished = subprocess.run(
            [sys.executable, "-m", "kerasrnn.cli", "serve", "--model-base-path", str(shakespeare), flag, str(port),
             other, "0"], capture_output=True, text=True, timeout=120)
    assert finished.returncode == 2
    assert finished.stderr.splitlines() == [
        f"kerasrnn serve: error: Cannot serve the {api} API on 127.0.0.1:{port}: the port is in use (another server "
        "listens there); stop it or choose another port"]  # one line, and no "Loading servable" before it
