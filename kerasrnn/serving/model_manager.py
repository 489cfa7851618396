"""The served models: load versions from their base paths, poll for new ones, look them up."""

import logging
import os
import threading

from kerasrnn.serving.batching import SignatureBatcher
from kerasrnn.serving.errors import ServingError
from kerasrnn.serving.servable import Servable

log = logging.getLogger("kerasrnn.serving")


def version_folders(base_path):
    """`{version: path}` of the integer-named folders holding a `saved_model.pb`.

    Other names (`temp-...` folders of an export in progress) are ignored, as
    TF Serving ignores them.

    Example:

    >>> version_folders("/no/such/path")
    {}
    """
    if not os.path.isdir(base_path):
        return {}
    found = {}
    for name in os.listdir(base_path):
        path = os.path.join(base_path, name)
        if name.isdigit() and os.path.isfile(os.path.join(path, "saved_model.pb")):
            found[int(name)] = path
    return found


class ServedModel:
    """One model name: its base path, version policy, loaded versions and failed ones."""

    def __init__(self, name, base_path, policy):
        self.name, self.base_path, self.policy = name, base_path, policy
        self.servables = {}  # version → Servable
        self.failures = {}  # version → (folder mtime, error message)
        self.batchers = {}  # (version, signature) → SignatureBatcher


class ModelManager:
    """Load every model's versions, keep them in step with disk, and hand them to requests.

    Args:
        models: `[(name, base_path, VersionPolicy), ...]`.
        batching: None, or `{"max_batch_size": int, "batch_timeout_s": float}`
            to merge concurrent predict calls.

    Example:

    >>> from kerasrnn.serving.version_policy import VersionPolicy
    >>> manager = ModelManager([("imdb", "export/imdb", VersionPolicy())])  # doctest: +SKIP
    >>> manager.refresh()  # doctest: +SKIP
    >>> manager.servable("imdb").version  # doctest: +SKIP
    1
    """

    def __init__(self, models, batching=None):
        self.models = {name: ServedModel(name, base_path, policy) for name, base_path, policy in models}
        self.batching = batching
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._poller = None

    def refresh(self):
        """Load wanted versions that appeared, unload ones that went away or fell out of the policy."""
        for model in self.models.values():
            self._refresh_model(model)

    def _refresh_model(self, model):
        on_disk = version_folders(model.base_path)
        stamps = {}
        for version, path in on_disk.items():
            try:
                stamps[version] = os.stat(path).st_mtime_ns
            except OSError:  # deleted while we looked
                pass
        for version in set(model.failures) - set(stamps):
            model.failures.pop(version, None)

        def usable():
            # A version that failed to load and is unchanged since does not
            # count for the policy, so a corrupt newest version cannot push
            # the good ones out.
            return [v for v in stamps if model.failures.get(v, (None,))[0] != stamps[v]]

        wanted = set(model.policy.select(usable()))
        while wanted - set(model.servables):
            for version in sorted(wanted - set(model.servables)):
                self._load(model, version, on_disk[version], stamps[version])
            wanted = set(model.policy.select(usable()))
        for version in sorted(set(model.servables) - wanted):
            reason = "its folder is gone" if version not in on_disk else f"the version policy is {model.policy!r}"
            log.warning("Unloading servable {name: %s version: %d}: %s", model.name, version, reason)
            with self.lock:
                model.servables.pop(version, None)
                for key in [key for key in model.batchers if key[0] == version]:
                    model.batchers.pop(key).close()

    def _load(self, model, version, path, stamp):
        log.info("Loading servable {name: %s version: %d} from %s", model.name, version, path)
        try:
            servable = Servable(model.name, version, path)
        except Exception as error:  # a corrupt or half-deleted folder must not stop the server
            message = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
            log.error("Failed to load servable {name: %s version: %d}: %s", model.name, version, message)
            model.failures[version] = (stamp, message)
            return
        with self.lock:
            model.servables[version] = servable
            model.failures.pop(version, None)
        log.info("Successfully loaded servable {name: %s version: %d}", model.name, version)

    def start_polling(self, interval_s):
        """Call `refresh` every `interval_s` seconds in a background thread."""

        def poll():
            while not self._stop.wait(interval_s):
                try:
                    self.refresh()
                except Exception:  # keep polling whatever one scan hit
                    log.exception("Polling the model folders failed")

        self._poller = threading.Thread(target=poll, name="kerasrnn-poller", daemon=True)
        self._poller.start()

    def stop(self):
        """Stop polling and the batching threads."""
        self._stop.set()
        with self.lock:
            for model in self.models.values():
                for batcher in model.batchers.values():
                    batcher.close()
                model.batchers.clear()

    def _model(self, name):
        if name not in self.models:
            raise ServingError("NOT_FOUND", f"Could not find any versions of model {name}")
        return self.models[name]

    def servable(self, name, version=None):
        """The servable a request names: a specific version, or the newest loaded one."""
        model = self.models.get(name)
        with self.lock:
            servables = dict(model.servables) if model else {}
        if version is None:
            if not servables:
                raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({name})")
            return servables[max(servables)]
        if version not in servables:
            raise ServingError("NOT_FOUND", f"Servable not found for request: Specific({name}, {version})")
        return servables[version]

    def predict(self, servable, signature_name, arrays):
        """Run a signature, through its batcher when batching is on and the signature allows it."""
        signature = servable.signature(signature_name)
        if not self.batching or not signature.batchable:
            return signature(arrays)
        model = self.models[servable.name]
        key = (servable.version, signature_name or "serving_default")
        with self.lock:
            batcher = model.batchers.get(key)
            if batcher is None:
                batcher = model.batchers[key] = SignatureBatcher(signature, **self.batching)
        return batcher(arrays)

    def status(self, name, version=None):
        """The body of `GET /v1/models/NAME[/versions/N]`, as TF Serving writes it."""
        model = self._model(name)
        with self.lock:
            entries = {v: ("AVAILABLE", "OK", "") for v in model.servables}
            for v, (_, message) in model.failures.items():
                entries.setdefault(v, ("END", "UNKNOWN", message))
        if version is not None:
            if version not in entries:
                raise ServingError("NOT_FOUND", f"Could not find version {version} of model {name}")
            entries = {version: entries[version]}
        elif not entries:
            raise ServingError("NOT_FOUND", f"Could not find any versions of model {name}")
        return {
            "model_version_status": [
                {"version": str(v), "state": state, "status": {"error_code": code, "error_message": message}}
                for v, (state, code, message) in sorted(entries.items(), reverse=True)
            ]
        }
