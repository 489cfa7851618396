"""TF Serving's config semantics while serving (issue #28): the config file is polled and applied.

* `kerasrnn serve --model_config_file F --model_config_file_poll_wait_seconds S`
  re-reads F every S seconds: a model added is served within a poll, a model
  removed answers 404, and a broken edit (unparsable, or a name listed twice)
  is logged in one line while the previous config stays served;
* a changed base path or version policy is applied (`ModelManager.reload_config`);
* gRPC `ModelService.HandleReloadConfigRequest` applies a `model_config_list`
  and refuses what TF Serving's `ServerCore::ReloadConfig` refuses.
"""

import logging
import shutil
import socket
import time

import grpc
import pytest
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_management_pb2,
    model_pb2,
    model_service_pb2_grpc,
)

import tiny_exports as tiny
from kerasrnn.cli import build_parser, main
from kerasrnn.export import export_for_serving
from kerasrnn.serving import ModelManager, ServingError, VersionPolicy
from kerasrnn.serving.grpc_server import GrpcServer
from test_serving_lifecycle import ServeProcess

POLL_S = 0.3


def _config_text(models):
    """A `model_config_list` of `[(name, base_path), ...]` (a name may come twice)."""
    entries = "".join(f"config {{ name: '{name}' base_path: '{path}' model_platform: 'tensorflow' }} "
                      for name, path in models)
    return f"model_config_list {{ {entries}}}"


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _write(config, text):
    # Written beside and renamed, as an operator's tooling (or an editor) replaces a file:
    # the poller never reads half of it.
    partial = config.with_name(config.name + ".partial")
    partial.write_text(text)
    partial.replace(config)


def _wait_for(predicate, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("exports")
    for task in ("sentiment", "pos_tagger"):
        export_for_serving(tiny.trained_model(task), root / tiny.EXPORT_NAMES[task], 1)
    return {"imdb": root / "imdb", "ewt": root / "ewt"}


@pytest.fixture(scope="module")
def served(exports, tmp_path_factory):
    """One `kerasrnn serve` run with TF Serving's own flags, polling its config file; each test sets its config.

    Versions are never polled (`--file_system_poll_wait_seconds=0`): what
    a config edit serves, the config reload itself loaded.
    """
    config = tmp_path_factory.mktemp("config") / "serving.config"
    _write(config, _config_text([("imdb", exports["imdb"])]))
    running = ServeProcess(f"--model_config_file={config}", "--port=0", f"--rest_api_port={_free_port()}",
                           "--file_system_poll_wait_seconds=0", f"--model_config_file_poll_wait_seconds={POLL_S}")
    running.config = config
    yield running
    running.stop()


def _serves(server, name):
    return server.get(f"/v1/models/{name}")[0] == 200


def _set_config(server, exports, names):
    _write(server.config, _config_text([(name, exports[name]) for name in names]))
    assert _wait_for(lambda: all(_serves(server, name) for name in names)
                     and not any(_serves(server, name) for name in set(exports) - set(names))), server.log[-5:]


def test_a_model_added_to_the_config_is_served_within_a_poll(served, exports):
    _set_config(served, exports, ["imdb"])
    assert served.get("/v1/models/ewt")[0] == 404
    _write(served.config, _config_text([("imdb", exports["imdb"]), ("ewt", exports["ewt"])]))
    started = time.monotonic()
    assert _wait_for(lambda: _serves(served, "ewt")), "".join(served.log[-5:])
    assert time.monotonic() - started < 20
    status, body = served.post("/v1/models/ewt:predict", {"signature_name": "tag_text", "instances": ["I saw it ."]})
    assert status == 200 and len(body["predictions"]) == 1, body
    assert served.post("/v1/models/imdb:predict", {"instances": ["Fine."]})[0] == 200


def test_a_model_removed_from_the_config_answers_404(served, exports):
    _set_config(served, exports, ["imdb", "ewt"])
    _write(served.config, _config_text([("imdb", exports["imdb"])]))
    assert _wait_for(lambda: not _serves(served, "ewt")), "".join(served.log[-5:])
    status, body = served.post("/v1/models/ewt:predict", {"signature_name": "tag_text", "instances": ["I saw it ."]})
    assert (status, body) == (404, {"error": "Servable not found for request: Latest(ewt)"})
    assert served.post("/v1/models/imdb:predict", {"instances": ["Fine."]})[0] == 200
    assert any("Unloading servable {name: ewt version: 1}: model ewt is no longer in the config" in line
               for line in served.log)


@pytest.mark.parametrize("broken, words", [
    ("unparsable", "is not a ModelServerConfig text proto"),
    ("name-twice", "Illegal to list model imdb multiple times in config list"),
], ids=["unparsable", "name-twice"])
def test_a_broken_edit_keeps_the_previous_config_served_and_is_logged_once(served, exports, broken, words):
    _set_config(served, exports, ["imdb"])
    texts = {"unparsable": f"model_config_list {{ config {{ name: 'ewt' base_path: '{exports['ewt']}' ",
             "name-twice": _config_text([("imdb", exports["imdb"]), ("imdb", exports["ewt"])])}
    logged = len(served.log)
    _write(served.config, texts[broken])
    assert _wait_for(lambda: any(words in line for line in served.log[logged:])), "".join(served.log[logged:])
    time.sleep(4 * POLL_S)  # more polls of the same broken file
    lines = [line for line in served.log[logged:] if words in line]
    assert len(lines) == 1, lines
    assert "still serving the previous one (imdb)" in lines[0]
    assert served.post("/v1/models/imdb:predict", {"instances": ["Fine."]})[0] == 200
    assert served.get("/v1/models/ewt")[0] == 404
    _set_config(served, exports, ["imdb", "ewt"])  # a good edit after it is applied


def test_grpc_handle_reload_config_request_applies_a_model_config_list(exports):
    # In process, with no config file: a polled file would put its own config back (as in TF Serving).
    manager = ModelManager([("imdb", str(exports["imdb"]), VersionPolicy())])
    manager.refresh()
    server = GrpcServer(("127.0.0.1", 0), manager)
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.server_address[1]}")
    stub = model_service_pb2_grpc.ModelServiceStub(channel)

    def reload(models, timeout=60):
        request = model_management_pb2.ReloadConfigRequest()
        for name, path in models:
            request.config.model_config_list.config.add(name=name, base_path=str(path), model_platform="tensorflow")
        return stub.HandleReloadConfigRequest(request, timeout=timeout)

    with pytest.raises(grpc.RpcError) as refused:
        reload([("imdb", exports["imdb"]), ("imdb", exports["ewt"])])
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details() == "Illegal to list model imdb multiple times in config list"
    with pytest.raises(grpc.RpcError) as relative:
        reload([("imdb", "export/imdb")])
    assert relative.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Expected model imdb to have an absolute path or URI" in relative.value.details()
    with pytest.raises(grpc.RpcError) as empty:
        stub.HandleReloadConfigRequest(model_management_pb2.ReloadConfigRequest(), timeout=60)
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Only ModelConfigList is currently supported" in empty.value.details()

    assert reload([("ewt", exports["ewt"])]).status.error_code == 0
    status = stub.GetModelStatus(get_model_status_pb2.GetModelStatusRequest(
        model_spec=model_pb2.ModelSpec(name="ewt")), timeout=60)
    assert [(entry.version, entry.state) for entry in status.model_version_status] == [
        (1, get_model_status_pb2.ModelVersionStatus.AVAILABLE)]
    with pytest.raises(ServingError, match=r"Latest\(imdb\)"):
        manager.servable("imdb")
    channel.close()
    server.stop()
    manager.stop()


def test_the_poll_flag_has_both_spellings_and_refuses_a_negative_wait(capsys):
    parser = build_parser()
    for spelling in ("--model-config-file-poll-wait-seconds", "--model_config_file_poll_wait_seconds"):
        arguments = parser.parse_args(["serve", "--model-config-file", "models.config", spelling, "60"])
        assert arguments.model_config_file_poll_wait_seconds == 60
    assert parser.parse_args(["serve", "--model-config-file", "x"]).model_config_file_poll_wait_seconds == 0
    assert main(["serve", "--model-config-file", "/no/such/models.config",
                 "--model-config-file-poll-wait-seconds", "-1"]) == 2
    error = capsys.readouterr().err.strip()
    assert "--model-config-file-poll-wait-seconds must be a non-negative number" in error and "\n" not in error


def test_a_changed_base_path_or_version_policy_is_applied(exports, tmp_path, caplog):
    base = tmp_path / "imdb"
    for version in (1, 2):
        shutil.copytree(exports["imdb"] / "1", base / str(version))
    moved = tmp_path / "moved"
    shutil.copytree(exports["imdb"] / "1", moved / "7")
    manager = ModelManager([("imdb", str(base), VersionPolicy())])
    manager.refresh()
    assert manager.servable("imdb").version == 2
    assert manager.reload_config([("imdb", str(base), VersionPolicy())]) == []  # unchanged: nothing reloaded
    assert manager.servable("imdb").version == 2

    manager.reload_config([("imdb", str(base), VersionPolicy("specific", versions=[1]))])
    assert manager.servable("imdb").version == 1
    with pytest.raises(ServingError):
        manager.servable("imdb", 2)

    with caplog.at_level(logging.INFO, logger="kerasrnn.serving"):
        manager.reload_config([("imdb", str(moved), VersionPolicy())])
    servable = manager.servable("imdb")
    assert (servable.version, servable.path) == (7, str(moved / "7"))
    assert [entry["version"] for entry in manager.status("imdb")["model_version_status"]] == ["7"]
    assert "updating ['imdb']" in caplog.text
    manager.stop()
