"""Zoo models installed with pip: one model package (wheel) per task, found through an entry point.

`kerasrnn zoo package` builds the wheels (see `kerasrnn.zoo.packaging`);
`pip install "kerasrnn[zoo]"` installs them. Each one is a plain Python
package (`kerasrnn_zoo_char_lm`, ...) holding its task's `.keras` files and an
`index.json` of their entries, and advertises itself in the `kerasrnn.zoo`
entry point group. `fetch` looks there first, so an installed model loads in
place: no download, no copy into the cache, also with `KERASRNN_OFFLINE=1`.
"""

import importlib.metadata
import importlib.util
import os

# Model packages advertise themselves here: `TASK = MODULE` (the module is the package's folder).
MODEL_PACKAGE_GROUP = "kerasrnn.zoo"


def model_package_name(task):
    """The pip distribution name of a task's model wheel.

    Args:
        task: a task name from `kerasrnn.tasks.registry.task_names()`.

    Example:

    >>> model_package_name("pos_tagger")
    'kerasrnn-zoo-pos-tagger'
    """
    return "kerasrnn-zoo-" + task.replace("_", "-")


def model_package_module(task):
    """The import name (the folder) of a task's model package.

    Args:
        task: a task name from `kerasrnn.tasks.registry.task_names()`.

    Example:

    >>> model_package_module("char_lm")
    'kerasrnn_zoo_char_lm'
    """
    return "kerasrnn_zoo_" + task


def model_package_requirements(version=None):
    """The requirements of the `zoo` extra: every task's model wheel, pinned to `version`.

    A model wheel holds the files this version's index lists (their sha256
    are checked at load), so the extra pins the exact version.

    Args:
        version: the version to pin (default `kerasrnn.__version__`).

    Example:

    >>> model_package_requirements("0.1.0")
    ['kerasrnn-zoo-char-lm==0.1.0', 'kerasrnn-zoo-pos-tagger==0.1.0', 'kerasrnn-zoo-sentiment==0.1.0']
    """
    from kerasrnn import __version__
    from kerasrnn.tasks.registry import task_names

    return [f"{model_package_name(task)}=={version or __version__}" for task in task_names()]


def reinstall_command(distribution):
    """The pip command that puts back the model wheel this kerasrnn expects.

    Args:
        distribution: a model wheel's name (`model_package_name(task)`).

    Example:

    >>> reinstall_command("kerasrnn-zoo-char-lm")  # doctest: +ELLIPSIS
    'pip install --force-reinstall --no-deps "kerasrnn-zoo-char-lm==..."'
    """
    from kerasrnn import __version__

    return f'pip install --force-reinstall --no-deps "{distribution}=={__version__}"'


def installed_model_packages():
    """The installed model packages: `(distribution, version, folder)` for each `kerasrnn.zoo` entry point.

    The folder is found with `importlib.util.find_spec`, so no package code
    runs. An entry point whose module is gone (a half-removed install) is a
    one-line error saying how to reinstall.

    Example:

    >>> isinstance(installed_model_packages(), list)
    True
    """
    packages = []
    for entry_point in importlib.metadata.entry_points(group=MODEL_PACKAGE_GROUP):
        distribution = entry_point.dist.name if entry_point.dist is not None else entry_point.name
        version = entry_point.dist.version if entry_point.dist is not None else "?"
        spec = importlib.util.find_spec(entry_point.module)
        if spec is None or not spec.submodule_search_locations:
            raise ValueError(
                f"The installed model package {distribution} {version} names the module {entry_point.module!r}, "
                f"which is not installed: reinstall it with `{reinstall_command(distribution)}`."
            )
        packages.append((distribution, version, list(spec.submodule_search_locations)[0]))
    return packages


def packaged_model_file(entry):
    """The path of a zoo model inside an installed model package, or None if none holds it.

    A package that lists the model must hold exactly the file kerasrnn's
    index describes (sha256): a damaged, missing or other-version file is a
    one-line error naming the package and the pip command that reinstalls it,
    never a silent fall-back to a download.

    Args:
        entry: the model's entry in kerasrnn's index (`name`, `file`, `sha256`).

    Example:

    >>> packaged_model_file({"name": "no-such-model", "file": "x.keras", "sha256": "0"}) is None
    True
    """
    from kerasrnn.zoo.download import sha256_of
    from kerasrnn.zoo.index import INDEX_FILE, read_index

    for distribution, version, folder in installed_model_packages():
        try:
            listed = {packaged["name"] for packaged in read_index(os.path.join(folder, INDEX_FILE))}
        except ValueError as error:
            raise ValueError(f"The installed model package {distribution} {version} has a broken index ({error}): "
                             f"reinstall it with `{reinstall_command(distribution)}`.") from error
        if entry["name"] not in listed:
            continue
        path = os.path.join(folder, entry["file"])
        if not os.path.isfile(path):
            problem = "its file is missing"
        else:
            actual = sha256_of(path)
            if actual == entry["sha256"]:
                return path
            problem = f"sha256 {actual[:12]}..., expected {entry['sha256'][:12]}..."
        raise ValueError(
            f"Zoo model {entry['name']!r} in the installed model package {distribution} {version} ({path}) is damaged "
            f"or of another version ({problem}): reinstall it with `{reinstall_command(distribution)}`."
        )
    return None
