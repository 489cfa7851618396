"""The folder layout TF Serving reads: what `kerasrnn.export` writes and `kerasrnn serve` loads.

A model's base path (`export/imdb/`) holds one folder per version, named by
its number (`export/imdb/1/`); a version folder holding a `saved_model.pb` is
a SavedModel to load, and its `assets.extra/` holds the warmup requests TF
Serving replays before taking traffic, and kerasrnn's notes on the
signatures. The models to serve are listed in `models.config`, TF Serving's
`ModelServerConfig` text proto (`--model_config_file`).

The exporter and the server both take these rules from here, so what one
writes is what the other reads. The module needs the standard library and
TF Serving's config protos only: the server imports no model code.
"""

import contextlib
import os
import re
import tempfile

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from kerasrnn.serving.version_policy import VersionPolicy

SAVED_MODEL_FILE = "saved_model.pb"
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
# Beside the warmup file: what each signature expects, for people and for the metadata of
# `kerasrnn serve` (TF Serving ignores it).
SIGNATURE_NOTES_FILE = os.path.join("assets.extra", "kerasrnn_signatures.json")
CONFIG_FILE = "models.config"
# Older versions stay loaded (reachable at /versions/N) next to the newest.
NUM_VERSIONS = 2
# TF Serving's rule: a version is an int64 written in ASCII digits; other names (`temp-...`
# folders of an export in progress, "²", numbers beyond 64 bits) are not versions.
_VERSION_NAME = re.compile(r"[0-9]{1,18}")


def is_version_name(name):
    """Whether a folder named `name` is a version folder: 1 to 18 ASCII digits.

    Args:
        name: a folder name inside a base path.

    Example:

    >>> [is_version_name(name) for name in ("1", "0012", "\u00b2", "temp-3", "1" * 19)]
    [True, True, False, False, False]
    """
    return bool(_VERSION_NAME.fullmatch(name))


def version_folders(base_path, saved_models_only=False):
    """`{version: path}` of the version folders under `base_path` (none if it does not exist).

    Args:
        base_path: a model's folder (`export/NAME`).
        saved_models_only: keep only the folders holding a `saved_model.pb`
            (what a server can load; an ONNX export's folders have none).

    Example:

    >>> version_folders("/no/such/path")
    {}
    >>> import tempfile
    >>> base = tempfile.mkdtemp()
    >>> for name in ("1", "12", "\u00b2", "temp-3"):
    ...     os.mkdir(os.path.join(base, name))
    >>> _ = open(os.path.join(base, "12", SAVED_MODEL_FILE), "wb").close()
    >>> sorted(version_folders(base)), sorted(version_folders(base, saved_models_only=True))
    ([1, 12], [12])
    """
    try:
        names = os.listdir(base_path)
    except OSError:  # missing, a file, or deleted or unreadable while we looked
        return {}
    found = {}
    for name in names:
        path = os.path.join(base_path, name)
        if not is_version_name(name) or not os.path.isdir(path):
            continue
        if saved_models_only and not os.path.isfile(os.path.join(path, SAVED_MODEL_FILE)):
            continue
        found[int(name)] = path
    return found


def existing_versions(base_path):
    """The version numbers under `base_path`, sorted (none if it does not exist).

    Args:
        base_path: a model's folder (`export/NAME`).

    Example:

    >>> existing_versions("/no/such/path")
    []
    """
    return sorted(version_folders(base_path))


def next_version(base_path):
    """One more than the highest existing version, or 1.

    Args:
        base_path: a model's folder (`export/NAME`).

    Example:

    >>> next_version("/no/such/path")
    1
    """
    versions = existing_versions(base_path)
    return versions[-1] + 1 if versions else 1


def build_models_config(export_root, num_versions=NUM_VERSIONS):
    """The `ModelServerConfig` listing every model folder under `export_root`.

    A model folder is one holding at least one SavedModel version; each
    model is named after its folder and served from its absolute path, with
    the `latest { num_versions }` version policy.

    Args:
        export_root: the folder holding one subfolder per model (`export/`).
        num_versions: how many of the newest versions each model keeps loaded.

    Example:

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "imdb", "1"))
    >>> _ = open(os.path.join(root, "imdb", "1", SAVED_MODEL_FILE), "wb").close()
    >>> os.makedirs(os.path.join(root, "notes"))
    >>> [model.name for model in build_models_config(root).model_config_list.config]
    ['imdb']
    """
    config = model_server_config_pb2.ModelServerConfig()
    root = os.path.abspath(export_root)
    names = sorted(os.listdir(root)) if os.path.isdir(root) else []
    for name in names:
        path = os.path.join(root, name)
        if version_folders(path, saved_models_only=True):
            model = config.model_config_list.config.add(name=name, base_path=path, model_platform="tensorflow")
            model.model_version_policy.latest.num_versions = num_versions
    return config


def write_models_config(export_root, num_versions=NUM_VERSIONS):
    """Regenerate `export_root/models.config` (atomically) and return its path.

    On any failure, a full disk included, the previous file stays as it was.

    Args:
        export_root: the folder of the model folders, where the file goes.
        num_versions: each model's `latest` policy (see `build_models_config`).

    Example:

    >>> from tempfile import mkdtemp
    >>> path = write_models_config(mkdtemp())
    >>> os.path.basename(path), open(path).read()
    ('models.config', '')
    """
    path = os.path.join(export_root, CONFIG_FILE)
    text = text_format.MessageToString(build_models_config(export_root, num_versions))
    # A temporary file of its own (exports into sibling base paths rewrite this file at the same time),
    # fsynced, then renamed: on any failure the old file stays and the temporary goes.
    descriptor, temporary = tempfile.mkstemp(prefix=f"{CONFIG_FILE}.tmp-", dir=export_root)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the config from a server running as another user
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise
    return path


def models_of_config_list(config_list, config_dir=None):
    """`[(name, base_path, VersionPolicy), ...]` of a `ModelConfigList`, validated as TF Serving's ServerCore does.

    Raises `ValueError` in TF Serving's words for a name listed twice and,
    without `config_dir`, for a relative base path.

    Args:
        config_list: a `ModelConfigList` proto (a config file's, or a
            `ReloadConfigRequest`'s).
        config_dir: the folder relative base paths are taken from (the
            config file's); None refuses them, as TF Serving does.

    Example:

    >>> from tensorflow_serving.config import model_server_config_pb2
    >>> config_list = model_server_config_pb2.ModelConfigList()
    >>> _ = config_list.config.add(name="imdb", base_path="export/imdb")
    >>> models_of_config_list(config_list)
    Traceback (most recent call last):
    ...
    ValueError: Expected model imdb to have an absolute path or URI; got base_path()=export/imdb
    >>> models_of_config_list(config_list, "/srv")[0][:2]
    ('imdb', '/srv/export/imdb')
    """
    models = []
    names = set()
    for entry in config_list.config:
        if not entry.name or not entry.base_path:
            entry_text = text_format.MessageToString(entry, as_one_line=True)
            raise ValueError(f"every model needs a name and a base_path; got {{ {entry_text} }}")
        # TF Serving's ServerCore refuses such a config in these words; serving only one of the
        # models under the name would hide the other.
        if entry.name in names:
            raise ValueError(f"Illegal to list model {entry.name} multiple times in config list")
        names.add(entry.name)
        base_path = entry.base_path
        if not os.path.isabs(base_path):
            if config_dir is None:
                raise ValueError(f"Expected model {entry.name} to have an absolute path or URI; got "
                                 f"base_path()={base_path}")
            base_path = os.path.join(config_dir, base_path)
        policy = entry.model_version_policy
        which = policy.WhichOneof("policy_choice")
        if which == "all":
            version_policy = VersionPolicy("all")
        elif which == "specific":
            version_policy = VersionPolicy("specific", versions=list(policy.specific.versions))
        else:
            version_policy = VersionPolicy("latest", num_versions=policy.latest.num_versions or 1)
        models.append((entry.name, base_path, version_policy))
    return models


def read_model_config(path, reloading=False):
    """Return `[(name, base_path, VersionPolicy), ...]` from a `model_config_list` file.

    Relative base paths are taken relative to the config file's folder.

    Args:
        path: the text-proto file, e.g. `export/models.config`.
        reloading: read for `--model_config_file_poll_wait_seconds`, with
            TF Serving's rules for a reload: a file setting no config (empty)
            returns None ("Taking no action for empty config"), and an empty
            `model_config_list {}` is a valid list of no models.

    Example:

    >>> [name for name, _, _ in read_model_config("export/models.config")]  # doctest: +SKIP
    ['imdb', 'shakespeare']
    >>> import tempfile
    >>> config = os.path.join(tempfile.mkdtemp(), "models.config")
    >>> entry = "config { name: 'imdb' base_path: '/models/imdb' model_platform: 'tensorflow' }"
    >>> _ = open(config, "w").write(f"model_config_list {{ {entry} {entry} }}")
    >>> read_model_config(config)
    Traceback (most recent call last):
    ...
    ValueError: --model-config-file: '...models.config': Illegal to list model imdb multiple times in config list
    >>> _ = open(config, "w").write("")
    >>> read_model_config(config, reloading=True) is None
    True
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--model-config-file: {path!r} does not exist.")
    config = model_server_config_pb2.ModelServerConfig()
    with open(path, encoding="utf-8") as file:
        try:
            text_format.Parse(file.read(), config)
        except (text_format.ParseError, UnicodeDecodeError) as error:
            raise ValueError(f"--model-config-file: {path!r} is not a ModelServerConfig text proto: {error}") from None
    which = config.WhichOneof("config")
    if reloading and which is None:
        return None
    if reloading and which != "model_config_list":
        raise ValueError(f"--model-config-file: {path!r}: Cannot transition to requested config. It is only legal to "
                         "transition from one ModelConfigList to another.")
    try:
        models = models_of_config_list(config.model_config_list, os.path.dirname(os.path.abspath(path)))
    except ValueError as error:
        raise ValueError(f"--model-config-file: {path!r}: {error}") from None
    if not models and not reloading:
        raise ValueError(f"--model-config-file: {path!r} lists no models.")
    return models
