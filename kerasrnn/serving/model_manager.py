"""The served models: load versions from their base paths, poll for new ones, look them up.

The set of models itself can change while serving, as TF Serving's
`ServerCore::ReloadConfig` changes it: `reload_config` (a gRPC
`HandleReloadConfigRequest`) and `watch_config` (TF Serving's
`--model_config_file_poll_wait_seconds`).
"""

import logging
import os
import threading

from kerasrnn.serving.errors import ServingError
from kerasrnn.serving.saved_model_layout import read_model_config, version_folders
from kerasrnn.serving.servable import Servable

log = logging.getLogger("kerasrnn.serving")


def folder_fingerprint(path):
    """What identifies a version folder's contents: every file's path, size and mtime, and the folder's inode.

    A version deleted and republished under the same number, or a
    half-copied one completed later, gets a new fingerprint, so the server
    loads it again; an unchanged folder keeps its fingerprint.

    Example:

    >>> folder_fingerprint("/no/such/path")
    ()
    """
    entries = []
    try:
        entries.append(("", os.stat(path).st_ino))
    except OSError:
        return ()
    for root, folders, files in os.walk(path):
        folders.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            try:
                stat = os.stat(full)
            except OSError:
                continue
            entries.append((os.path.relpath(full, path), stat.st_size, stat.st_mtime_ns, stat.st_ino))
    return tuple(entries)


class ServedModel:
    """One model name: its base path, version policy, loaded versions and failed ones."""

    def __init__(self, name, base_path, policy):
        self.name, self.base_path, self.policy = name, base_path, policy
        self.servables = {}  # version → Servable
        self.fingerprints = {}  # version → folder_fingerprint of the loaded servable
        self.failures = {}  # version → (folder fingerprint, error message)
        self.loading = set()  # versions being loaded (not reported until AVAILABLE or END)


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
        # Replaced whole (never changed in place) by reload_config, so a request's lookup
        # and a refresh's loop each see one consistent set of models.
        self.models = {name: ServedModel(name, base_path, policy) for name, base_path, policy in models}
        self.batching = batching
        self.lock = threading.Lock()
        # One refresh or reload at a time: the version poller, the config poller and a gRPC
        # reload would otherwise load the same version twice or unload what another loads.
        self._changing = threading.RLock()
        self._stop = threading.Event()
        self._poller = None
        self._config_poller = None

    def refresh(self):
        """Load wanted versions that appeared or changed, unload ones that went away or fell out of the policy."""
        with self._changing:
            for model in self.models.values():
                self._refresh_logged(model)

    def _refresh_logged(self, model):
        try:
            self._refresh_model(model)
        except Exception:  # one model's folder must not stop the others from being polled
            log.exception("Polling the versions of model %s in %s failed", model.name, model.base_path)

    def reload_config(self, models):
        """Serve exactly `models` from now on, as TF Serving's `ServerCore::ReloadConfig` does.

        Models no longer listed are unloaded (their requests then get 404),
        new ones are loaded before this returns, and a listed model whose
        base path or version policy changed is brought in step with it (its
        loaded versions keep answering until their replacements are loaded).
        An unchanged list does nothing.

        Args:
            models: `[(name, base_path, VersionPolicy), ...]`, names unique
                (as `read_model_config` and `models_of_config_list` check).

        Returns:
            The names of the added models that have no loadable version (TF
            Serving's "did not become available"); they stay configured and
            the version poller keeps looking for one.

        Example:

        >>> from kerasrnn.serving.version_policy import VersionPolicy
        >>> manager.reload_config([("imdb", "/srv/imdb", VersionPolicy()), ("ewt", "/srv/ewt", VersionPolicy())])  # doctest: +SKIP
        []
        """
        wanted = {name: (base_path, policy) for name, base_path, policy in models}
        if len(wanted) != len(models):
            raise ValueError("`models` lists a name more than once: names must be unique.")
        with self._changing:
            current = self.models
            added = [name for name in wanted if name not in current]
            removed = [name for name in current if name not in wanted]
            updated = [name for name in wanted if name in current
                       and (current[name].base_path, current[name].policy) != wanted[name]]
            if not (added or removed or updated):
                return []
            log.info("Reloading the model config: adding %s, removing %s, updating %s",
                     added or "none", removed or "none", updated or "none")
            for name in updated:
                current[name].base_path, current[name].policy = wanted[name]
            models_now = {name: current[name] if name in current else ServedModel(name, *wanted[name])
                          for name in wanted}
            with self.lock:
                self.models = models_now
            # As TF Serving's source tears down the removed models before it waits for the new
            # ones: the memory of the old ones is given back first.
            for name in removed:
                with self.lock:
                    retired = current[name].servables
                    current[name].servables, current[name].fingerprints = {}, {}
                for version, servable in sorted(retired.items()):
                    log.warning("Unloading servable {name: %s version: %d}: model %s is no longer in the config",
                                name, version, name)
                    servable.retire()
            for name in added + updated:
                self._refresh_logged(models_now[name])
            unavailable = [name for name in added if not models_now[name].servables]
            for name in unavailable:
                log.warning("No loadable version of model %s in %s yet; polling for one", name,
                            models_now[name].base_path)
            log.info("Finished reloading the model config: serving %s", ", ".join(models_now) or "no models")
            return unavailable

    def _refresh_model(self, model):
        on_disk = version_folders(model.base_path, saved_models_only=True)
        stamps = {version: folder_fingerprint(path) for version, path in on_disk.items()}
        stamps = {version: stamp for version, stamp in stamps.items() if stamp}
        for version in set(model.failures) - set(stamps):
            model.failures.pop(version, None)

        def usable():
            # A version that failed to load and is unchanged since does not
            # count for the policy, so a corrupt newest version cannot push
            # the good ones out; once its files change it is tried again.
            return [v for v in stamps if model.failures.get(v, (None,))[0] != stamps[v]]

        def stale():
            # Loaded versions whose folder now holds something else (deleted
            # and republished under the same number): load them again.
            return {v for v in model.servables if v in stamps and model.fingerprints.get(v) != stamps[v]}

        wanted = set(model.policy.select(usable()))
        while (wanted - set(model.servables)) or (wanted & stale()):
            for version in sorted((wanted - set(model.servables)) | (wanted & stale())):
                self._load(model, version, on_disk[version], stamps[version])
            wanted = set(model.policy.select(usable()))
        for version in sorted(set(model.servables) - wanted):
            reason = "its folder is gone" if version not in on_disk else f"the version policy is {model.policy!r}"
            if version in stamps and model.failures.get(version, (None,))[0] == stamps[version]:
                reason = "its folder changed and the new contents failed to load"
            log.warning("Unloading servable {name: %s version: %d}: %s", model.name, version, reason)
            with self.lock:
                retired = model.servables.pop(version, None)
                model.fingerprints.pop(version, None)
            if retired is not None:
                retired.retire()

    def _load(self, model, version, path, stamp):
        replacing = version in model.servables
        log.info("%s servable {name: %s version: %d} from %s", "Reloading changed" if replacing else "Loading",
                 model.name, version, path)
        with self.lock:
            model.loading.add(version)
        try:
            servable = Servable(model.name, version, path)
            replayed = servable.warm_up()
        except Exception as error:  # a corrupt or half-written folder must not stop the server
            message = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
            log.error("Failed to load servable {name: %s version: %d}: %s", model.name, version, message)
            with self.lock:
                model.failures[version] = (stamp, message)
                model.loading.discard(version)
            return
        with self.lock:
            previous = model.servables.get(version)
            model.servables[version] = servable
            model.fingerprints[version] = stamp
            model.failures.pop(version, None)
            model.loading.discard(version)
        if previous is not None:
            previous.retire()
        log.info("Successfully loaded servable {name: %s version: %d} (%d warmup requests replayed)",
                 model.name, version, replayed)

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

    def watch_config(self, path, interval_s):
        """Re-read the model config file `path` every `interval_s` seconds and apply it, as TF Serving's
        `--model_config_file_poll_wait_seconds` does.

        A file that cannot be read or parsed, or a config TF Serving would
        refuse (a name listed twice), is reported in one log line and the
        previous config stays served; the same problem is not logged again
        at every poll. A file that sets no config (empty, e.g. caught
        mid-write) changes nothing either, as in TF Serving ("Taking no
        action for empty config"); `model_config_list {}` unloads every model.

        Args:
            path: the `--model_config_file`.
            interval_s: seconds between two reads (positive).

        Example:

        >>> manager.watch_config("export/models.config", 60)  # doctest: +SKIP
        """
        if not interval_s > 0:
            raise ValueError(f"`interval_s` must be a positive number. Received: interval_s={interval_s!r}")

        def poll():
            last_problem = None
            while not self._stop.wait(interval_s):
                problem = self._apply_config_file(path)
                if problem and problem != last_problem:
                    log.error("Model config not applied, still serving the previous one (%s): %s",
                              ", ".join(self.models) or "no models", problem)
                elif last_problem and not problem:
                    log.info("The model config %s reads well again", path)
                last_problem = problem

        self._config_poller = threading.Thread(target=poll, name="kerasrnn-config-poller", daemon=True)
        self._config_poller.start()

    def _apply_config_file(self, path):
        """Read and apply the config file once; returns None, or what went wrong in one line."""
        try:
            models = read_model_config(path, reloading=True)
        except (OSError, ValueError) as error:
            return str(error).replace("\n", " ")
        if models is None:
            return f"--model-config-file: {path!r} sets no model_config_list: taking no action (TF Serving's rule)"
        try:
            self.reload_config(models)
        except Exception as error:  # the poller must outlive whatever one reload hit
            log.exception("Reloading the model config %s failed", path)
            return f"--model-config-file: {path!r}: {type(error).__name__}: {error}".replace("\n", " ")
        return None

    def stop(self):
        """Stop polling and the batching threads."""
        self._stop.set()
        with self.lock:
            servables = [servable for model in self.models.values() for servable in model.servables.values()]
        for servable in servables:
            servable.retire()

    def _model(self, name):
        model = self.models.get(name)  # one lookup: a config reload may replace the dict meanwhile
        if model is None:
            raise ServingError("NOT_FOUND", f"Could not find any versions of model {name}")
        return model

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
        # Batchers belong to the servable object, not to its version number:
        # a version republished under the same number gets new ones, and a
        # retired servable answers its last requests alone.
        batcher = servable.batcher(signature_name or "serving_default", self.batching)
        return batcher(arrays) if batcher is not None else signature(arrays)

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
