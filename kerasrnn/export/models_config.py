"""`export/models.config`: the TF Serving `model_config_list` of every exported model."""

import contextlib
import os
import tempfile

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from kerasrnn.atomic_files import disk_full, is_disk_full
from kerasrnn.export.versioned_write import existing_versions

CONFIG_FILE = "models.config"
# Older versions stay loaded (reachable at /versions/N) next to the newest.
NUM_VERSIONS = 2


def is_model_folder(path):
    """Whether `path` holds at least one integer version with a `saved_model.pb`.

    Example:

    >>> is_model_folder("/no/such/path")
    False
    """
    return any(
        os.path.isfile(os.path.join(path, str(version), "saved_model.pb")) for version in existing_versions(path)
    )


def build_models_config(export_root, num_versions=NUM_VERSIONS):
    """The `ModelServerConfig` listing every model folder under `export_root`.

    Each model is named after its folder and served from its absolute path,
    with the `latest { num_versions }` version policy.

    Args:
        export_root: the folder holding one subfolder per model (`export/`).
        num_versions: how many of the newest versions each model keeps loaded.

    Example:

    >>> config = build_models_config("export")
    >>> [model.name for model in config.model_config_list.config]  # doctest: +SKIP
    ['imdb', 'shakespeare']
    """
    config = model_server_config_pb2.ModelServerConfig()
    root = os.path.abspath(export_root)
    names = sorted(os.listdir(root)) if os.path.isdir(root) else []
    for name in names:
        path = os.path.join(root, name)
        if os.path.isdir(path) and is_model_folder(path):
            model = config.model_config_list.config.add(name=name, base_path=path, model_platform="tensorflow")
            model.model_version_policy.latest.num_versions = num_versions
    return config


def write_models_config(export_root, num_versions=NUM_VERSIONS):
    """Regenerate `export_root/models.config` (atomically) and return its path.

    Example:

    >>> write_models_config("export")  # doctest: +SKIP
    'export/models.config'
    """
    path = os.path.join(export_root, CONFIG_FILE)
    text = text_format.MessageToString(build_models_config(export_root, num_versions))
    # A temporary file of its own (exports into sibling base paths rewrite this file at the same time),
    # fsynced, then renamed: on any failure, a full disk included, the old file stays and the temporary goes.
    descriptor, temporary = tempfile.mkstemp(prefix=f"{CONFIG_FILE}.tmp-", dir=export_root)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the config from a server running as another user
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        if is_disk_full(error):
            raise disk_full(path) from error
        raise
    return path
