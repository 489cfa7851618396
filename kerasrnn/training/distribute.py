"""Cluster set-up for `kerasrnn train`: strategies by name, `TF_CONFIG` checks, peer probes, the chief.

Three strategies are offered by name (`STRATEGY_NAMES`):

- `"default"`: TensorFlow's default strategy (one device, no distribution).
- `"mirrored"`: `tf.distribute.MirroredStrategy` over every visible GPU, or,
  without GPUs, over every logical CPU device (one unless the process
  configured more).
- `"multi-worker"`: `tf.distribute.MultiWorkerMirroredStrategy` over the
  cluster that the standard `TF_CONFIG` environment variable describes.

A broken set-up ends with one `ClusterSetupError` (a `ValueError`) line, not
a hang: `TF_CONFIG` missing, not JSON, without `cluster`/`task`, a task index
out of range, or a peer that does not come up within `peer_timeout` seconds.

Keras 3.15 cannot `fit` under `MultiWorkerMirroredStrategy` with more than
one worker (keras-team/keras#20585); kerasrnn's fix patches Keras' private
trainer, so it lives with the other private Keras uses:
`kerasrnn.keras_adapter.multi_worker_fit` (docs/distributed_training.md
explains the cause).

Example:

>>> strategy = make_strategy("default")
>>> strategy.num_replicas_in_sync, is_chief(strategy)
(1, True)
"""

import json
import os
import socket
import sys
import threading
import time

import tensorflow as tf

STRATEGY_NAMES = ("default", "mirrored", "multi-worker")
DEFAULT_PEER_TIMEOUT = 120.0
# Seconds without a heartbeat after which TensorFlow's coordination service
# declares a worker dead and stops the others with an error.
HEARTBEAT_TIMEOUT = 10
# Seconds past `peer_timeout` before the watchdog ends a process TensorFlow keeps waiting.
WATCHDOG_GRACE = 30
MULTI_WORKER_JOBS = ("chief", "worker")
_STRATEGIES = {}


class ClusterSetupError(ValueError):
    """A multi-worker set-up that cannot work: bad `TF_CONFIG`, or a peer that never came up.

    Example:

    >>> try:
    ...     read_tf_config({"TF_CONFIG": "{"})
    ... except ClusterSetupError as error:
    ...     print(str(error).split(":")[0])
    TF_CONFIG is not JSON
    """


def read_tf_config(environ=None):
    """Parse and check the standard `TF_CONFIG`; return `(cluster, task_type, task_index)`.

    `cluster` maps job names (`"chief"`, `"worker"`) to lists of
    `"host:port"` addresses; `task` names this process's job and index.

    Args:
        environ: the environment to read (default `os.environ`).

    Raises:
        ClusterSetupError: `TF_CONFIG` unset, not JSON, without `cluster` or
            `task`, with an unknown job or an index out of range.

    Example:

    >>> read_tf_config({"TF_CONFIG": json.dumps({
    ...     "cluster": {"worker": ["127.0.0.1:20000", "127.0.0.1:20001"]},
    ...     "task": {"type": "worker", "index": 1}})})
    ({'worker': ['127.0.0.1:20000', '127.0.0.1:20001']}, 'worker', 1)
    """
    environ = os.environ if environ is None else environ
    text = environ.get("TF_CONFIG")
    if not text:
        raise ClusterSetupError(
            "TF_CONFIG is not set: --strategy multi-worker needs it, e.g. "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'
        )
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ClusterSetupError(f"TF_CONFIG is not JSON: {error.msg} at character {error.pos} of {text!r}") from error
    if not isinstance(config, dict) or "cluster" not in config or "task" not in config:
        raise ClusterSetupError(
            'TF_CONFIG must be a JSON object with "cluster" and "task" keys. '
            f"Received keys: {sorted(config) if isinstance(config, dict) else type(config).__name__}"
        )
    cluster, task = config["cluster"], config["task"]
    if not isinstance(cluster, dict) or not cluster:
        raise ClusterSetupError(f'TF_CONFIG "cluster" must map job names to address lists. Received: {cluster!r}')
    for job, addresses in cluster.items():
        if job not in MULTI_WORKER_JOBS:
            raise ClusterSetupError(
                f'TF_CONFIG "cluster" has a {job!r} job; multi-worker training uses only {MULTI_WORKER_JOBS}.'
            )
        if not isinstance(addresses, list) or not addresses or not all(_is_address(a) for a in addresses):
            raise ClusterSetupError(
                f'TF_CONFIG "cluster"["{job}"] must be a non-empty list of "host:port" strings. Received: {addresses!r}'
            )
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise ClusterSetupError(f'TF_CONFIG "task" must be {{"type": JOB, "index": N}}. Received: {task!r}')
    task_type, index = task["type"], task["index"]
    if task_type not in cluster:
        raise ClusterSetupError(
            f'TF_CONFIG "task" type {task_type!r} is not a job of the cluster ({", ".join(sorted(cluster))}).'
        )
    size = len(cluster[task_type])
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
        raise ClusterSetupError(
            f'TF_CONFIG "task" index {index!r} is out of range: the cluster has {size} {task_type!r} '
            f"task{'s' if size != 1 else ''} (index 0 to {size - 1})."
        )
    return cluster, task_type, index


def _is_address(address):
    host, _, port = address.rpartition(":") if isinstance(address, str) else ("", "", "")
    return bool(host) and port.isdigit()


def unreachable_addresses(addresses, timeout=1.0):
    """The `"host:port"` addresses where nothing accepts a TCP connection.

    Example:

    >>> unreachable_addresses(["127.0.0.1:1"])
    ['127.0.0.1:1']
    """
    missing = []
    for address in addresses:
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
                pass
        except OSError:
            missing.append(address)
    return missing


def _configure_coordination(cluster, peer_timeout):
    # MultiWorkerMirroredStrategy starts TensorFlow's coordination service,
    # where every task registers before anything runs; TensorFlow's own
    # configuration waits for the registrations forever (timeout 0). The same
    # configuration, set first, with a deadline: TensorFlow keeps one already set.
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context

    jobs = [
        coordination_config_pb2.CoordinatedJob(name=job, num_tasks=len(cluster[job]))
        for job in MULTI_WORKER_JOBS
        if job in cluster
    ]
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=multi_worker_util.coordination_leader(cluster),
        cluster_register_timeout_in_ms=int(peer_timeout * 1000),
        heartbeat_timeout_in_ms=HEARTBEAT_TIMEOUT * 1000,
        coordinated_jobs=jobs,
    )
    # Registration as a barrier: the leader too gives up at the deadline.
    context.context().coordination_service.cluster_register_with_barrier = True


def multi_worker_strategy(peer_timeout=DEFAULT_PEER_TIMEOUT, environ=None):
    """A `MultiWorkerMirroredStrategy` over the `TF_CONFIG` cluster, waiting at most `peer_timeout` s for peers.

    Must run before TensorFlow executes anything in this process (it
    configures the collective ops at start-up).

    Raises:
        ClusterSetupError: a bad `TF_CONFIG` (see `read_tf_config`), or a
            peer that did not come up in time; the message names the
            addresses waited for.

    Example:

    >>> strategy = multi_worker_strategy(peer_timeout=60)  # doctest: +SKIP
    """
    if not isinstance(peer_timeout, (int, float)) or isinstance(peer_timeout, bool) or peer_timeout <= 0:
        raise ValueError(f"`peer_timeout` must be a positive number of seconds. Received: peer_timeout={peer_timeout!r}")
    cluster, task_type, index = read_tf_config(environ)
    own = cluster[task_type][index]
    peers = [address for addresses in cluster.values() for address in addresses if address != own]
    started = time.monotonic()

    def timeout_message():
        missing = unreachable_addresses(peers) or peers
        return (
            f"timed out after {time.monotonic() - started:.0f} s (peer_timeout={peer_timeout:g}) waiting for "
            f"{', '.join(missing)} to join the cluster of TF_CONFIG ({task_type} {index} at {own}); "
            "start every worker with the same cluster and its own task index."
        )

    # The coordination leader (the chief, else worker 0) waits for the others
    # inside TensorFlow's C++ runtime, past any deadline and deaf to SIGTERM:
    # if it is still waiting at the deadline, a watchdog ends the process
    # (status 2) with the same one-line error the other workers raise.
    created = threading.Event()

    def watchdog():
        if not created.wait(peer_timeout + WATCHDOG_GRACE):
            sys.stderr.write(f"kerasrnn train: error: {timeout_message()}\n")
            sys.stderr.flush()
            os._exit(2)

    threading.Thread(target=watchdog, daemon=True, name="kerasrnn-peer-watchdog").start()
    try:
        _configure_coordination(cluster, peer_timeout)
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    except tf.errors.DeadlineExceededError as error:
        raise ClusterSetupError(timeout_message()) from error
    finally:
        created.set()
    return strategy


def _local_devices():
    gpus = tf.config.list_logical_devices("GPU")
    return [device.name for device in gpus or tf.config.list_logical_devices("CPU")]


def make_strategy(strategy=None, peer_timeout=DEFAULT_PEER_TIMEOUT):
    """A `tf.distribute.Strategy` from a name in `STRATEGY_NAMES`, a strategy, or None (the default).

    Args:
        strategy: `"default"`, `"mirrored"`, `"multi-worker"`, a
            `tf.distribute.Strategy` (returned as it is), or None.
        peer_timeout: with `"multi-worker"`, seconds to wait for the peers.

    Example:

    >>> make_strategy("mirrored").num_replicas_in_sync >= 1
    True
    """
    if strategy is None or strategy == "default":
        return tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    if strategy in ("mirrored", "multi-worker"):
        # One per process: two strategies over the same devices would share
        # collective-op keys, and the second one's all-reduces fail.
        if strategy not in _STRATEGIES:
            if strategy == "mirrored":
                _STRATEGIES[strategy] = tf.distribute.MirroredStrategy(devices=_local_devices())
            else:
                _STRATEGIES[strategy] = multi_worker_strategy(peer_timeout)
        return _STRATEGIES[strategy]
    raise ValueError(
        f"`strategy` must be one of {', '.join(STRATEGY_NAMES)} or a tf.distribute.Strategy. Received: strategy={strategy!r}"
    )


def is_multi_worker(strategy):
    """True if `strategy` spans more than one worker process.

    Example:

    >>> is_multi_worker(tf.distribute.get_strategy())
    False
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    return bool(getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)()) and resolver is not None


def worker_identity(strategy):
    """`(task_type, task_index)` of this process, `(None, None)` outside a cluster.

    Example:

    >>> worker_identity(tf.distribute.get_strategy())
    (None, None)
    """
    if not is_multi_worker(strategy):
        return None, None
    resolver = strategy.cluster_resolver
    return resolver.task_type, resolver.task_id


def is_chief(strategy):
    """True for the process that writes the results: the `chief`, else worker 0, else the only process.

    Example:

    >>> is_chief(tf.distribute.get_strategy())
    True
    """
    task_type, index = worker_identity(strategy)
    if task_type is None:
        return True
    has_chief = "chief" in strategy.cluster_resolver.cluster_spec().as_dict()
    return task_type == "chief" or (not has_chief and task_type == "worker" and index == 0)


def shard_by_data(dataset):
    """`dataset` with the DATA auto-shard policy: every worker reads all of it and keeps its part of each batch.

    kerasrnn's datasets are built in memory (`from_tensor_slices`), so there
    are no files to shard; saying so up front spares TensorFlow's attempt at
    FILE sharding and its warning.

    Example:

    >>> shard_by_data(tf.data.Dataset.range(4)).options().experimental_distribute.auto_shard_policy.name
    'DATA'
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)
