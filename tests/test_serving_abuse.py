"""`kerasrnn serve` tried as an attacker would: framing, slow clients, connection floods, bad values.

Most tests run the real HTTP server in-process on loopback in front of a stub
model manager (no TensorFlow model needed: these are HTTP and JSON paths);
the cost budgets are tested against real exports in a subprocess, whose
memory is measured. Every test is bounded in time and connections.
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import psutil
import pytest

from kerasrnn.serving.errors import ServingError
from kerasrnn.serving.http_server import RestApiServer
from kerasrnn.serving.limits import RequestLimits


class _StubSignature:
    input_dtypes = {"text": "string"}

    @property
    def inputs(self):  # for the gRPC API, which checks tensor dtypes
        import tensorflow as tf

        return {"text": tf.TensorSpec([None], tf.string)}

    @property
    def outputs(self):
        import tensorflow as tf

        return {"length": tf.TensorSpec([None], tf.int32)}

    def check_shapes(self, arrays, signature_name):
        pass


class _StubServable:
    name, version = "stub", 1

    def signature(self, signature_name):
        if signature_name not in ("", "serving_default"):
            raise ServingError("INVALID_ARGUMENT", f'Serving signature name: "{signature_name}" not found in signature def')
        return _StubSignature()

    def metadata(self):
        return {"model_spec": {"name": "stub", "signature_name": "", "version": "1"}, "metadata": {}}


class StubManager:
    """Answers model `stub`: the length of each text; sleeps `delay_s` per call."""

    def __init__(self, delay_s=0.0):
        self.delay_s = delay_s

    def servable(self, name, version=None):
        if name != "stub":
            raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({name})")
        return _StubServable()

    def status(self, name, version=None):
        self.servable(name)
        return {"model_version_status": [{"version": "1", "state": "AVAILABLE",
                                           "status": {"error_code": "OK", "error_message": ""}}]}

    def predict(self, servable, signature_name, arrays):
        time.sleep(self.delay_s)
        return {"length": np.array([len(text) for text in arrays["text"]], "int32")}


class InProcessServer:
    def __init__(self, manager=None, **options):
        self.server = RestApiServer(("127.0.0.1", 0), manager or StubManager(), **options)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.uvicorn.started and time.monotonic() < deadline:
            time.sleep(0.02)

    def request(self, method, path, body=None, timeout=10):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        connection.request(method, path, body=data)
        response = connection.getresponse()
        status, raw = response.status, response.read()
        connection.close()
        return status, json.loads(raw)

    def raw(self, data, timeout=5):
        """Send raw bytes; return everything the server sends back until it closes (or `timeout`)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(data)
            return _read_all(sock, timeout)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def _read_all(sock, timeout):
    chunks, deadline = [], time.monotonic() + timeout
    sock.settimeout(timeout)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _responses(raw):
    """`[(status, JSON body)]` of the HTTP/1.1 responses in `raw` (Content-Length framed)."""
    answers = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip() for line in lines[1:]}
        length = int(headers["content-length"])
        answers.append((int(lines[0].split()[1]), json.loads(rest[:length]), headers))
        raw = rest[length:]
    return answers


@pytest.fixture(scope="module")
def stub():
    server = InProcessServer(max_connections=20, read_timeout_s=1.0, keep_alive_s=1.0,
                             limits=RequestLimits(max_rows=100, max_cells=10_000, deadline_s=1.0))
    yield server
    server.stop()


GOOD = b'{"instances": ["abc", "de"]}'


def _post(body, extra=b""):
    return b"POST /v1/models/stub:predict HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n" + body


def test_stub_answers_well_formed_requests(stub):
    assert stub.request("POST", "/v1/models/stub:predict", GOOD) == (200, {"predictions": [3, 2]})
    assert stub.request("GET", "/v1/models/stub")[0] == 200


# --- Framing -------------------------------------------------------------------------------------


def test_content_length_shorter_than_body_is_not_answered_as_a_second_request(stub):
    # 20 bytes announced, more sent: the left-over bytes are refused as malformed HTTP, never run.
    answers = _responses(stub.raw(_post(b'{"instances": ["a"]}' + b'GET /v1/models/stub HTTP/1.1\r\n',
                                        b"Content-Length: 20\r\n")))
    assert answers[0][:2] == (200, {"predictions": [1]})
    assert [status for status, *_ in answers[1:]] in ([], [400])
    assert all("Malformed HTTP request" in body["error"] for _, body, _ in answers[1:])
    # Junk after a complete request: one 400, connection closed.
    answers = _responses(stub.raw(_post(GOOD + b'"]}\r\n\r\n', f"Content-Length: {len(GOOD)}\r\n".encode())))
    assert [status for status, *_ in answers] == [200, 400] and answers[1][2]["connection"] == "close"


@pytest.mark.parametrize("header", [
    b"Content-Length: -5\r\n",
    b"Content-Length: 3_0\r\n",
    b"Content-Length: 28\r\nContent-Length: 5\r\n",
    b"Content-Length: +28\r\n",
], ids=["negative", "underscore", "duplicated", "plus"])
def test_malformed_content_length_is_refused_in_json(stub, header):
    answers = _responses(stub.raw(_post(GOOD, header)))
    assert len(answers) == 1, answers
    status, body, headers = answers[0]
    assert status == 400 and "Malformed HTTP request" in body["error"] and headers["connection"] == "close"


def test_unsupported_transfer_encoding_is_refused_not_read_as_empty(stub):
    chunked = b"1c\r\n" + GOOD + b"\r\n0\r\n\r\n"
    [(status, body, _)] = _responses(stub.raw(_post(chunked, b"Transfer-Encoding: gzip, chunked\r\n")))
    assert status == 501 and "Transfer-Encoding" in body["error"]
    # Plain chunked framing is HTTP/1.1 and works.
    [(status, body, _)] = _responses(stub.raw(_post(chunked, b"Transfer-Encoding: chunked\r\nConnection: close\r\n")))
    assert (status, body) == (200, {"predictions": [3, 2]})


def test_a_get_body_is_never_read_as_a_request(stub):
    body = _post(GOOD, f"Content-Length: {len(GOOD)}\r\n".encode())
    get = b"GET /v1/models/stub HTTP/1.1\r\nHost: x\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    answers = _responses(stub.raw(get + b"GET /v1/models/stub HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    assert [status for status, *_ in answers] == [200, 200]
    assert all("model_version_status" in body for _, body, _ in answers)  # the smuggled POST never ran


# --- Errors: always 4xx JSON -----------------------------------------------------------------------

BAD_VALUES = [
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"instances": ' + b"[" * 900 + b'"a"' + b"]" * 900 + b"}", ""),
    (b'{"signature_name": "\\ud800", "instances": ["a"]}', "surrogate"),
    (b'{"inputs": {"text": ["\\ud800"]}}', "surrogate"),
    (b'{"inputs": ["\\udfff"]}', "surrogate"),
    (b'{"instances": ["a"], "seed": ' + b"9" * 5000 + b"}", "digits"),
]


@pytest.mark.parametrize("body, message", BAD_VALUES, ids=["deep", "deep-instances", "surrogate-signature",
                                                           "surrogate-columnar", "surrogate-bare", "5000-digits"])
def test_bad_values_get_a_400_in_tf_serving_shape(stub, body, message):
    status, answer = stub.request("POST", "/v1/models/stub:predict", body)
    assert status == 400 and list(answer) == ["error"] and message in answer["error"], answer


@pytest.mark.parametrize("method", ["PUT", "DELETE", "OPTIONS", "PATCH"])
def test_other_methods_get_a_json_400(stub, method):
    status, answer = stub.request(method, "/v1/models/stub:predict", b"{}")
    assert status == 400 and answer == {"error": f"Malformed request: {method} /v1/models/stub:predict"}


def test_huge_version_numbers_and_undecodable_paths_are_400(stub):
    assert stub.request("GET", "/v1/models/stub/versions/99999999999999999999999")[0] == 400
    status, answer = stub.request("GET", "/v1/models/%ff%fe")
    assert status == 400 and "not valid UTF-8" in answer["error"]


def test_too_many_rows_refused_before_conversion(stub):
    status, answer = stub.request("POST", "/v1/models/stub:predict", {"instances": [""] * 101})
    assert status == 400 and "--max-request-rows" in answer["error"]
    status, answer = stub.request("POST", "/v1/models/stub:predict", {"instances": ["x" * 10_001]})
    assert status == 400 and "--max-request-cells" in answer["error"]


# --- Time and connections ----------------------------------------------------------------------------


def test_request_deadline_answers_504_and_the_server_keeps_serving():
    slow = InProcessServer(StubManager(delay_s=3.0), limits=RequestLimits(deadline_s=0.5))
    try:
        started = time.monotonic()
        status, answer = slow.request("POST", "/v1/models/stub:predict", GOOD)
        assert status == 504 and "--request-timeout-seconds" in answer["error"]
        assert time.monotonic() - started < 2.5
        assert slow.request("GET", "/v1/models/stub")[0] == 200
    finally:
        slow.stop()


def test_slow_clients_are_cut_off_after_the_read_timeout_while_others_are_served(stub):
    idle = socket.create_connection(("127.0.0.1", stub.port))
    headers_only = socket.create_connection(("127.0.0.1", stub.port))
    headers_only.sendall(_post(b"", b"Content-Length: 50\r\n"))  # promises a body, never sends it
    partial = socket.create_connection(("127.0.0.1", stub.port))
    partial.sendall(b"POST /v1/models/stub:predict HTTP/1.1\r\nHost: x\r\n")  # headers never finished
    started = time.monotonic()
    for _ in range(5):
        assert stub.request("POST", "/v1/models/stub:predict", GOOD)[0] == 200
    assert time.monotonic() - started < 1.0
    answers = {}
    for name, sock in (("idle", idle), ("headers_only", headers_only), ("partial", partial)):
        answers[name] = _read_all(sock, 5)
        sock.close()
    assert time.monotonic() - started < 5
    assert answers["idle"] == b""  # closed without a word
    [(status, body, _)] = _responses(answers["headers_only"])
    assert status == 408 and "Request body not received" in body["error"]
    [(status, body, _)] = _responses(answers["partial"])
    assert status == 408 and "Request headers not received" in body["error"]


def test_connections_beyond_the_cap_are_refused_with_503(stub):
    sockets = [socket.create_connection(("127.0.0.1", stub.port)) for _ in range(25)]
    try:
        time.sleep(0.3)
        refused = 0
        for sock in sockets:
            sock.settimeout(0.05)
            try:
                data = sock.recv(4096)
            except socket.timeout:
                continue
            if data:
                status, body, _ = _responses(data)[0]
                assert status == 503 and "--max-connections" in body["error"]
                refused += 1
        assert refused == 5
    finally:
        for sock in sockets:
            sock.close()
    time.sleep(0.2)
    assert stub.request("POST", "/v1/models/stub:predict", GOOD)[0] == 200


DESCRIPTOR_SCRIPT = textwrap.dedent("""
    import resource, sys, time
    sys.path.insert(0, sys.argv[1])
    import test_serving_abuse as t
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    server = t.InProcessServer(max_connections=10_000, read_timeout_s=30, keep_alive_s=30)
    print(server.port, flush=True)
    time.sleep(30)
""")


def test_descriptor_exhaustion_refuses_connections_without_spinning(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", DESCRIPTOR_SCRIPT, os.path.dirname(__file__)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    sockets = []
    try:
        port = int(process.stdout.readline())
        for _ in range(90):  # more than the 64 descriptors the server may hold
            try:
                sockets.append(socket.create_connection(("127.0.0.1", port), timeout=1))
            except OSError:
                break
        time.sleep(1.0)
        refused = 0
        for sock in sockets:
            sock.settimeout(0.02)
            try:
                data = sock.recv(4096)
            except socket.timeout:
                continue
            except ConnectionResetError:
                data = b""
            refused += 1
            assert data == b"" or _responses(data)[0][0] == 503
        assert refused >= 90 - 64  # connections beyond what the descriptors allow were turned away
        cpu = psutil.Process(process.pid)
        before = sum(cpu.cpu_times()[:2])
        time.sleep(3.0)
        used = sum(cpu.cpu_times()[:2]) - before
        assert used < 0.5, f"the server used {used:.2f} s of CPU in 3 s while out of descriptors"
        for sock in sockets:
            sock.close()
        sockets = []
        deadline = time.monotonic() + 10
        status = None
        while time.monotonic() < deadline and status != 200:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/v1/models/stub")
                status = connection.getresponse().status
                connection.close()
            except OSError:
                time.sleep(0.3)
        assert status == 200  # it recovers once descriptors are free
    finally:
        for sock in sockets:
            sock.close()
        process.kill()
        process.wait(timeout=10)
