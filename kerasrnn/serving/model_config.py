"""Read TF Serving's `--model_config_file` (a `ModelServerConfig` text proto)."""

import os

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from kerasrnn.serving.version_policy import VersionPolicy


def read_model_config(path):
    """Return `[(name, base_path, VersionPolicy), ...]` from a `model_config_list` file.

    Relative base paths are taken relative to the config file's folder.

    Args:
        path: the text-proto file, e.g. `export/models.config`.

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
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--model-config-file: {path!r} does not exist.")
    config = model_server_config_pb2.ModelServerConfig()
    with open(path, encoding="utf-8") as file:
        try:
            text_format.Parse(file.read(), config)
        except text_format.ParseError as error:
            raise ValueError(f"--model-config-file: {path!r} is not a ModelServerConfig text proto: {error}") from None
    models = []
    names = set()
    for entry in config.model_config_list.config:
        if not entry.name or not entry.base_path:
            raise ValueError(f"--model-config-file: every model needs a name and a base_path; got {entry}")
        # TF Serving's ServerCore refuses such a config in these words; serving only one of the
        # models under the name would hide the other.
        if entry.name in names:
            raise ValueError(f"--model-config-file: {path!r}: Illegal to list model {entry.name} multiple times in config list")
        names.add(entry.name)
        base_path = entry.base_path
        if not os.path.isabs(base_path):
            base_path = os.path.join(os.path.dirname(os.path.abspath(path)), base_path)
        policy = entry.model_version_policy
        which = policy.WhichOneof("policy_choice")
        if which == "all":
            version_policy = VersionPolicy("all")
        elif which == "specific":
            version_policy = VersionPolicy("specific", versions=list(policy.specific.versions))
        else:
            version_policy = VersionPolicy("latest", num_versions=policy.latest.num_versions or 1)
        models.append((entry.name, base_path, version_policy))
    if not models:
        raise ValueError(f"--model-config-file: {path!r} lists no models.")
    return models
