"""Serving and generation speed: `kerasrnn serve` vs a naive Flask + `model.predict` server,
the exported `generate` signature vs a `model.predict`-per-character loop.

Models are trained briefly on the real data (speed does not depend on how
well a model is trained), saved, and exported. Load comes from loopback
client threads in this process, each with its own keep-alive connection,
bounded both in time and in request count.
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time

import keras
import numpy as np
import tensorflow as tf

from benchmarks.measure import PeakRss, interleaved, median, seconds
from kerasrnn.data import load_imdb
from kerasrnn.export import export_for_serving
from kerasrnn.training.trainer import train
from kerasrnn.zoo import load as load_model

DATA = "../shared/data"


def free_port():
    """A free loopback TCP port.

    Example:

    >>> 0 < free_port() < 65536
    True
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(port, path, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"server on port {port} did not come up")


def _connect(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.connect()
    # http.client writes headers and body separately; without TCP_NODELAY,
    # Nagle + delayed ACK would add ~40 ms to every request of every server.
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def load(port, path, bodies, clients, duration_s, max_requests):
    """Send POSTs from `clients` threads for `duration_s` (or `max_requests`); latencies and failures.

    Example:

    >>> load(free_port(), "/", [b"{}"], clients=1, duration_s=0.1, max_requests=1)["failed"]
    1
    """
    latencies, failed, lock = [], [0], threading.Lock()
    deadline = time.perf_counter() + duration_s
    budget = [max_requests]

    def client(index):
        try:
            connection = _connect(port)
        except OSError:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        k = index
        while time.perf_counter() < deadline:
            with lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            body = bodies[k % len(bodies)]
            k += clients
            start = time.perf_counter()
            try:
                connection.request("POST", path, body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                ok = False
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            with lock:
                if ok:
                    latencies.append(time.perf_counter() - start)
                else:
                    failed[0] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies = np.array(latencies or [float("nan")])
    return {"requests_per_s": (len(latencies) if failed[0] == 0 or len(latencies) > 1 else 0) / elapsed,
            "p50_ms": float(np.percentile(latencies, 50) * 1e3), "p99_ms": float(np.percentile(latencies, 99) * 1e3),
            "ok": int(np.isfinite(latencies).sum()), "failed": failed[0]}


def _train_quick(task, out_dir, builder_options, data, max_examples, **data_options):
    train(task, data, out_dir, builder_options=builder_options, data_options=data_options, epochs=1,
          max_examples=max_examples, verbose=0)
    return os.path.join(out_dir, "model.keras")


def serving(settings, work_dir):
    """Requests/s and p50/p99 at 1/8/32 clients for three servers over the same sentiment model."""
    model_path = _train_quick("sentiment", os.path.join(work_dir, "sentiment"),
                              {"cell": "lstm", "units": 64, "embedding_dim": 128},
                              f"{DATA}/aclImdb_v1_labeled.tar.gz", settings["serving_train_examples"],
                              max_length=200)
    model = load_model(model_path)
    export_for_serving(model, os.path.join(work_dir, "export", "imdb"), version=1, overwrite=True)
    texts = load_imdb(f"{DATA}/aclImdb_v1_labeled.tar.gz", splits=("test",))["test"][0][:200]
    tf_bodies = [json.dumps({"instances": [{"text": t}]}).encode() for t in texts]
    flask_bodies = [json.dumps({"text": t}).encode() for t in texts]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=os.getcwd())
    kerasrnn = [os.path.join(os.path.dirname(sys.executable), "kerasrnn"), "serve", "--model-base-path",
                os.path.join(work_dir, "export", "imdb"), "--model-name", "imdb",
                "--file-system-poll-wait-seconds", "0"]
    servers = {
        "kerasrnn serve --enable-batching": (kerasrnn + ["--enable-batching"], "/v1/models/imdb",
                                             "/v1/models/imdb:predict", tf_bodies),
        "kerasrnn serve (no batching)": (kerasrnn, "/v1/models/imdb", "/v1/models/imdb:predict", tf_bodies),
        "naive Flask + model.predict": ([sys.executable, "-m", "benchmarks.naive_flask_server", model_path],
                                        "/health", "/predict", flask_bodies),
    }
    processes, ports = {}, {}
    try:
        for name, (command, health, _, _) in servers.items():
            ports[name] = free_port()
            log = open(os.path.join(work_dir, f"server-{len(processes)}.log"), "w")
            processes[name] = subprocess.Popen(command + ["--port", str(ports[name])], env=env,
                                               stdout=log, stderr=subprocess.STDOUT)
        for index, (name, (_, health, _, _)) in enumerate(servers.items()):
            try:
                _wait_until_up(ports[name], health)
            except RuntimeError:
                with open(os.path.join(work_dir, f"server-{index}.log")) as log:
                    raise RuntimeError(f"{name} did not start:\n{log.read()[-3000:]}") from None
        rows = []
        for clients in settings["clients"]:
            rss = {}

            def run_once(name):
                _, _, path, bodies = servers[name]
                with PeakRss(processes[name].pid) as watch:
                    result = load(ports[name], path, bodies, clients, settings["load_seconds"],
                                  settings["max_requests"])
                rss[name] = max(rss.get(name, 0), watch.peak)
                return result

            for name in servers:  # warm-up: first requests trace and allocate
                run_once(name)
            results = interleaved(list(servers), settings["repetitions"], run_once)
            for name, values in results.items():
                rows.append({"server": name, "clients": clients, "runs": values, "peak_rss_bytes": rss[name],
                             "requests_per_s": median([v["requests_per_s"] for v in values]),
                             "p50_ms": median([v["p50_ms"] for v in values]),
                             "p99_ms": median([v["p99_ms"] for v in values]),
                             "failed": sum(v["failed"] for v in values), "ok": sum(v["ok"] for v in values)})
        return rows
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(timeout=30)


def generation(settings, work_dir):
    """Characters/s: the exported `generate` signature vs `model.predict` once per character."""
    model_path = _train_quick("char_lm", os.path.join(work_dir, "charlm"),
                              {"cell": "lstm", "units": settings["char_units"], "num_layers": 2, "embedding_dim": 64},
                              f"{DATA}/tinyshakespeare/input.txt", settings["charlm_train_windows"])
    model = load_model(model_path)
    export = export_for_serving(model, os.path.join(work_dir, "export", "charlm"), version=1, overwrite=True)
    generate = tf.saved_model.load(export.path).signatures["generate"]
    core = model.network
    lookup = {c: i for i, c in enumerate(model.preprocessor.labels) if i > 0}
    prompt = "ROMEO:\n"
    graph_chars, loop_chars = settings["generate_chars"], settings["predict_loop_chars"]
    rng = np.random.default_rng(0)
    prompt_ids = [lookup.get(c, 0) for c in prompt]

    def signature_run():
        generate(prompt=tf.constant([prompt]), max_length=tf.constant([graph_chars]),
                 temperature=tf.constant([0.8]), seed=tf.constant([1], tf.int64))

    def predict_loop():
        ids = list(prompt_ids)
        for _ in range(loop_chars):  # the keras-io text-generation loop: a window in, one character out
            logits = core.predict(np.array([ids[-100:]], "int32"), verbose=0)[0, -1] / 0.8
            p = np.exp(logits - logits.max())
            ids.append(int(rng.choice(len(p), p=p / p.sum())))

    runs = {"exported generate signature": (signature_run, graph_chars),
            "Python loop of model.predict per character": (predict_loop, loop_chars)}
    for function, _ in runs.values():
        function()
    times = interleaved(list(runs), settings["repetitions"], lambda name: seconds(runs[name][0]))
    return [{"method": name, "characters": runs[name][1], "seconds": values,
             "chars_per_s": median([runs[name][1] / t for t in values])} for name, values in times.items()]
