"""Read TF Serving's `--model_config_file` (a `ModelServerConfig` text proto)."""

import os

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from kerasrnn.serving.version_policy import VersionPolicy


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
