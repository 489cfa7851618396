"""`kerasrnn serve` under load, before and after issue #12: REST and gRPC, cold and warm, and a memory soak.

    python -m benchmarks.serving_load --work-dir /tmp/serving-load \\
        [--seconds 5] [--cold-seconds 3] [--clients 1 8 32] [--soak-seconds 600] [--before-commit 13321b5]

* cold: the first `--cold-seconds` after a server answers its first status
  request, from 32 clients at once (what warmup replay is for);
* warm: requests/s, p50 and p99 at each client count, REST for every
  server, gRPC for this checkout's;
* soak: `--soak-seconds` of mixed traffic from 8 clients (sentiment rows,
  tagger rows, `generate`, requests refused by the budget, malformed JSON),
  the server's RSS sampled every 2 s.

The servers: this checkout (uvicorn + gRPC), the code at `--before-commit`
(extracted with `git archive`, stdlib `http.server`), and the naive Flask +
`model.predict` baseline. The models are the tiny ones the tests train
(tests/tiny_exports.py): the figures compare servers, not model speed.
Everything runs on loopback, bounded in time and requests.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import psutil

from benchmarks.serving_speed import free_port, load

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))


def _exports(work_dir):
    import tiny_exports as tiny
    from kerasrnn.export import export_for_serving

    root = os.path.join(work_dir, "export")
    if not os.path.isfile(os.path.join(root, "models.config")):
        for task in ("sentiment", "pos_tagger", "char_lm"):
            export_for_serving(tiny.trained_model(task), os.path.join(root, tiny.EXPORT_NAMES[task]))
    return root, os.path.join(tiny.trained_dir("sentiment"), "model.keras"), list(tiny.real_reviews(6))


def _before_tree(work_dir, commit):
    target = os.path.join(work_dir, f"before-{commit}")
    if not os.path.isdir(target):
        os.makedirs(target)
        archive = subprocess.run(["git", "-C", ROOT, "archive", commit, "kerasrnn"], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", target], input=archive.stdout, check=True)
    return target


def _start(command, pythonpath, health_port, log_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=pythonpath)
    # Run from the tree being measured: `python -m` puts the working folder
    # first on sys.path, ahead of PYTHONPATH.
    process = subprocess.Popen(command, env=env, cwd=pythonpath, stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
    import http.client

    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", health_port, timeout=5)
            connection.request("GET", "/health" if "flask" in " ".join(command) else "/v1/models/imdb")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{command} did not start; see {log_path}")


def grpc_load(port, texts, clients, duration_s, max_requests):
    """Predict RPCs from `clients` threads (one channel each); the same figures as `load`.

    Example:

    >>> grpc_load(free_port(), ["x"], clients=1, duration_s=0.2, max_requests=1)["failed"]
    1
    """
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    requests = []
    for text in texts:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "imdb"
        request.inputs["text"].CopyFrom(tf.make_tensor_proto([text]))
        requests.append(request)
    latencies, failed, lock, budget = [], [0], threading.Lock(), [max_requests]
    deadline = time.perf_counter() + duration_s

    def client(index):
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        k = index
        while time.perf_counter() < deadline:
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            start = time.perf_counter()
            try:
                stub.Predict(requests[k % len(requests)], timeout=60)
                ok = True
            except grpc.RpcError:
                ok = False
            k += clients
            with lock:
                (latencies.append(time.perf_counter() - start) if ok else failed.__setitem__(0, failed[0] + 1))
        channel.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    values = np.array(latencies or [float("nan")])
    return {"requests_per_s": len(latencies) / elapsed, "p50_ms": float(np.percentile(values, 50) * 1e3),
            "p99_ms": float(np.percentile(values, 99) * 1e3), "max_ms": float(np.max(values) * 1e3),
            "ok": len(latencies), "failed": failed[0]}


def _mixed_bodies(reviews):
    bodies = [("/v1/models/imdb:predict", {"instances": reviews[:4]}),
              ("/v1/models/ewt:predict", {"signature_name": "tag_text", "instances": reviews[:2]}),
              ("/v1/models/shakespeare:predict", {"signature_name": "generate", "instances": [
                  {"prompt": "To be", "max_length": 100, "temperature": 0.8, "seed": 1}]}),
              ("/v1/models/shakespeare:predict", {"instances": ["e" * 10_000] + ["a"] * 499}),  # refused
              ("/v1/models/shakespeare:predict", {"instances": ["e" * 2_000] * 100}),  # allowed, large
              ("/v1/models/imdb:predict", b'{"instances": [')]  # malformed
    return [(path, body if isinstance(body, bytes) else json.dumps(body).encode()) for path, body in bodies]


def soak(port, pid, reviews, seconds, clients=8):
    """RSS (MB) sampled every 2 s during `seconds` of mixed traffic; the status counts of the answers."""
    import http.client

    bodies = _mixed_bodies(reviews)
    deadline = time.monotonic() + seconds
    statuses, lock, samples = {}, threading.Lock(), []

    def client(index):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        k = index
        while time.monotonic() < deadline:
            path, body = bodies[k % len(bodies)]
            k += 1
            try:
                connection.request("POST", path, body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                status = response.status
            except OSError:
                status = "error"
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    process = psutil.Process(pid)
    while time.monotonic() < deadline:
        samples.append(round(process.memory_info().rss / 2**20, 1))
        time.sleep(2)
    for thread in threads:
        thread.join()
    samples.append(round(process.memory_info().rss / 2**20, 1))
    return {"seconds": seconds, "rss_mb_samples": samples, "rss_mb_first": samples[0], "rss_mb_max": max(samples),
            "rss_mb_last": samples[-1], "statuses": {str(k): v for k, v in sorted(statuses.items(), key=str)}}


def main(argv=None):
    """Run the benchmark; prints and writes `WORK_DIR/serving_load.json`.

    Example:

    >>> main(["--work-dir", "/tmp/serving-load", "--seconds", "2"])  # doctest: +SKIP
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--cold-seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--soak-seconds", type=float, default=0.0)
    parser.add_argument("--before-commit", default="13321b5")
    parser.add_argument("--servers", nargs="+", default=["after", "before", "flask"])
    args = parser.parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    export_root, keras_model, reviews = _exports(args.work_dir)
    config = os.path.join(export_root, "models.config")
    rest_bodies = [json.dumps({"instances": [text]}).encode() for text in reviews]
    flask_bodies = [json.dumps({"text": text}).encode() for text in reviews]
    results = {"cold": {}, "warm": [], "soak": {}}
    for name in args.servers:
        port, grpc_port = free_port(), free_port()
        if name == "after":
            command = [sys.executable, "-m", "kerasrnn.cli", "serve", "--model-config-file", config, "--port",
                       str(port), "--grpc-port", str(grpc_port), "--file-system-poll-wait-seconds", "0"]
            pythonpath = ROOT
        elif name == "before":
            command = [sys.executable, "-m", "kerasrnn.cli", "serve", "--model-config-file", config, "--port",
                       str(port), "--file-system-poll-wait-seconds", "0"]
            pythonpath = _before_tree(args.work_dir, args.before_commit)
        else:
            command = [sys.executable, "-m", "benchmarks.naive_flask_server", keras_model, "--port", str(port)]
            pythonpath = ROOT
        path, bodies = ("/predict", flask_bodies) if name == "flask" else ("/v1/models/imdb:predict", rest_bodies)
        process = _start(command, pythonpath, port, os.path.join(args.work_dir, f"{name}.log"))
        try:
            cold = load(port, path, bodies, 32, args.cold_seconds, args.max_requests)
            results["cold"][name] = cold
            print(json.dumps({"server": name, "phase": "cold, 32 clients", **cold}), flush=True)
            for clients in args.clients:
                row = load(port, path, bodies, clients, args.seconds, args.max_requests)
                results["warm"].append({"server": name, "api": "REST", "clients": clients, **row})
                print(json.dumps(results["warm"][-1]), flush=True)
                if name == "after":
                    row = grpc_load(grpc_port, reviews, clients, args.seconds, args.max_requests)
                    results["warm"].append({"server": name, "api": "gRPC", "clients": clients, **row})
                    print(json.dumps(results["warm"][-1]), flush=True)
            if args.soak_seconds and name in ("after", "before"):
                results["soak"][name] = soak(port, process.pid, reviews, args.soak_seconds)
                print(json.dumps({"server": name, "soak": results["soak"][name]}), flush=True)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    with open(os.path.join(args.work_dir, "serving_load.json"), "w") as file:
        json.dump(results, file, indent=1)
    return results


if __name__ == "__main__":
    main()
