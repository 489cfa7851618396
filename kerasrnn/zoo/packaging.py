"""`kerasrnn zoo package`: pip-installable model wheels built from a published zoo folder.

spaCy ships its pretrained pipelines the same way: the code is one wheel,
the weights are others, and an extra (`kerasrnn[zoo]`) pulls them in. Each
task gets one wheel, `kerasrnn-zoo-char-lm`, `kerasrnn-zoo-pos-tagger` and
`kerasrnn-zoo-sentiment` (see `kerasrnn.zoo.model_packages`), holding every
model of that task in kerasrnn's index, its entries as `index.json`, and a
`kerasrnn.zoo` entry point through which `kerasrnn.zoo.load` finds it.

Unlike training and publishing (`python -m tools.zoo`, in a clone), this
tool ships in the package: it only reads a published zoo folder (`--zoo-dir`,
default a clone's `models/`), needs nothing beyond pip and setuptools, and
the CI builds the model wheels with the kerasrnn installed from its own wheel. The wheels
are built by pip (`pip wheel` on a generated `pyproject.toml` source tree,
with setuptools as the backend), never written by hand.
"""

import glob
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile

from kerasrnn.zoo.download import DEFAULT_ZOO_DIR
from kerasrnn.zoo.index import INDEX_FILE, averaged_members, find_entry, read_index, write_index
from kerasrnn.zoo.model_packages import MODEL_PACKAGE_GROUP, model_package_module, model_package_name

# PyPI refuses a file above this size unless the project was granted more
# (Warehouse's MAX_FILESIZE: 100 * 1024 * 1024 bytes).
PYPI_FILE_LIMIT_BYTES = 100 * 1024 * 1024
MIB = 1024 * 1024

_PYPROJECT = """\
[build-system]
requires = ["setuptools>=70.1"]
build-backend = "setuptools.build_meta"

[project]
name = "{distribution}"
version = "{version}"
description = "Pretrained kerasrnn models for the {task} task: {names}."
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["kerasrnn=={version}"]

[project.entry-points."{group}"]
{task} = "{module}"

[tool.setuptools]
packages = ["{module}"]
include-package-data = false

[tool.setuptools.package-data]
{module} = ["*.keras", "{index}"]
"""

_INIT = '''"""Pretrained kerasrnn models for the {task} task: {names}.

Built by `kerasrnn zoo package` from kerasrnn {version}'s zoo. kerasrnn finds
these files through the `{group}` entry point and checks each one's sha256
against its own index before loading it in place:

    from kerasrnn import zoo
    model = zoo.load("{first}")
"""

__version__ = "{version}"
'''

_README = """# {distribution}

Pretrained [kerasrnn](https://pypi.org/project/kerasrnn/) {version} models for the `{task}` task,
built by `kerasrnn zoo package`. Installed (with the other tasks' models) by `pip install "kerasrnn[zoo]"`;
load one by name with `kerasrnn.zoo.load(NAME)` or `kerasrnn predict NAME ...`.

| model | file | bytes | sha256 |
|---|---|---|---|
{rows}
"""


def _task_plans(names, entries):
    """The tasks to build, each with its sorted index entries; NAMEs choose whole tasks."""
    tasks = sorted({entry["task"] for entry in entries})
    if names:
        tasks = sorted({find_entry(name, entries)["task"] for name in names})
    return [(task, sorted((entry for entry in entries if entry["task"] == task), key=lambda entry: entry["name"]))
            for task in tasks]


def _with_files(task_entries):
    """The entries with a file of their own: an average is assembled from its members' files (same task, same wheel)."""
    return [entry for entry in task_entries if averaged_members(entry) is None]


def _check_files(task, task_entries, zoo_dir, max_wheel_bytes):
    """Refuse before building: a missing or different file, or a wheel over the size limit."""
    from kerasrnn.zoo.download import _checked_file_name, sha256_of

    distribution = model_package_name(task)
    total = 0
    for entry in _with_files(task_entries):
        path = os.path.join(zoo_dir, _checked_file_name(entry))
        if not os.path.isfile(path):
            raise ValueError(f"{path} is missing: the {distribution} wheel holds every {task} model of kerasrnn's "
                             f"index, {entry['name']} included (pass the published zoo folder with --zoo-dir).")
        total += os.path.getsize(path)
    if total > max_wheel_bytes:
        raise ValueError(
            f"The {distribution} wheel would hold {total} bytes of models, over the per-file limit of "
            f"{max_wheel_bytes} bytes (PyPI's default is {PYPI_FILE_LIMIT_BYTES // MIB} MiB): ask PyPI for a "
            "larger limit or split the task's models; nothing was built."
        )
    for entry in _with_files(task_entries):
        path = os.path.join(zoo_dir, entry["file"])
        actual = sha256_of(path)
        if actual != entry["sha256"]:
            raise ValueError(
                f"{path} is not the file kerasrnn's index lists for {entry['name']} (sha256 {actual[:12]}..., "
                f"expected {entry['sha256'][:12]}...): restore it or publish it again (`python -m tools.zoo publish "
                f"{entry['name']}`); a wheel of it would fail every load."
            )


def _write_source_tree(folder, task, task_entries, zoo_dir, version):
    """A minimal setuptools project: pyproject.toml, README.md and the package with the models."""
    module = model_package_module(task)
    distribution = model_package_name(task)
    package = os.path.join(folder, module)
    os.makedirs(package)
    names = ", ".join(entry["name"] for entry in task_entries)
    fields = dict(distribution=distribution, version=version, task=task, names=names, group=MODEL_PACKAGE_GROUP,
                  module=module, index=INDEX_FILE, first=task_entries[0]["name"])
    with open(os.path.join(folder, "pyproject.toml"), "w", encoding="utf-8") as file:
        file.write(_PYPROJECT.format(**fields))
    rows = "\n".join(f"| {entry['name']} | {entry['file']} | {entry['size_bytes']} | {entry['sha256']} |"
                     if averaged_members(entry) is None else
                     f"| {entry['name']} | averages {' and '.join(averaged_members(entry))} | 0 | |"
                     for entry in task_entries)
    with open(os.path.join(folder, "README.md"), "w", encoding="utf-8") as file:
        file.write(_README.format(rows=rows, **fields))
    with open(os.path.join(package, "__init__.py"), "w", encoding="utf-8") as file:
        file.write(_INIT.format(**fields))
    write_index(task_entries, os.path.join(package, INDEX_FILE))
    for entry in _with_files(task_entries):
        source, copy = os.path.join(zoo_dir, entry["file"]), os.path.join(package, entry["file"])
        try:
            os.link(source, copy)  # tens of MB: a hard link where the file system allows one
        except OSError:
            shutil.copyfile(source, copy)


def _can_build_without_isolation():
    """True when this environment's setuptools can build a wheel itself (no package index needed)."""
    try:
        setuptools_version = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return False
    parts = (setuptools_version.split(".") + ["0"])[:2]
    major_minor = tuple(int("".join(filter(str.isdigit, part)) or 0) for part in parts)
    # setuptools >= 61 reads [project] from pyproject.toml; `bdist_wheel` comes from setuptools >= 70.1 or `wheel`.
    has_bdist_wheel = any(entry_point.name == "bdist_wheel"
                          for entry_point in importlib.metadata.entry_points(group="distutils.commands"))
    return major_minor >= (61, 0) and has_bdist_wheel


def _pip_wheel(source_tree, out_dir):
    """Run `pip wheel` on the source tree; its output is kept off stdout (the CLI prints JSON there)."""
    # Without a capable setuptools here, pip fetches one from the package index into an isolated build.
    isolation = ["--no-build-isolation", "--no-index"] if _can_build_without_isolation() else []
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "--quiet",
               *isolation, "-w", out_dir, source_tree]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        raise ValueError(f"pip wheel failed for {source_tree}: {lines[-1] if lines else f'exit {result.returncode}'}")


def build_model_wheels(out_dir, names=None, zoo_dir=None, max_wheel_bytes=PYPI_FILE_LIMIT_BYTES):
    """Build one pip-installable model wheel per task from a published zoo folder.

    A task's wheel holds every model of that task in kerasrnn's index (the
    packaged `presets.json`), whose sha256 it checks first. NAMEs choose
    whole task wheels, never a subset of one: a wheel's name and version
    (kerasrnn's `__version__`, which the `zoo` extra pins) must always name
    the same files, or pip could install a wheel lacking a model the extra
    promised. Nothing is built unless every file is present, matches the
    index, and the wheel stays under `max_wheel_bytes`; a built wheel over it
    is deleted.

    Args:
        out_dir: the folder for the wheels (created if needed).
        names: zoo model names; only the wheels holding them are built
            (default: every task's).
        zoo_dir: the published zoo folder with the `.keras` files (default:
            a clone's `models/`).
        max_wheel_bytes: the largest wheel allowed (default PyPI's 100 MiB).

    Returns:
        One dict per wheel: `distribution`, `version`, `task`, `models`,
        `wheel` (its path) and `size_bytes`.

    Example:

    >>> build_model_wheels("dist-models", names=["no-such-model"])
    Traceback (most recent call last):
    ...
    ValueError: Unknown zoo model 'no-such-model'. ...
    >>> wheels = build_model_wheels("dist-models", names=["charlm-shakespeare-rnn"])  # doctest: +SKIP
    >>> [wheel["distribution"] for wheel in wheels]  # doctest: +SKIP
    ['kerasrnn-zoo-char-lm']
    """
    from kerasrnn import __version__

    if names is not None and (isinstance(names, str) or not all(isinstance(name, str) for name in names)):
        raise ValueError(f"names must be a list of zoo model names. Received: {names!r}")
    entries = read_index()
    plans = _task_plans(names, entries)
    zoo_dir = zoo_dir or DEFAULT_ZOO_DIR
    if not os.path.isdir(zoo_dir):
        raise ValueError(f"zoo_dir: {zoo_dir!r} is not a folder; pass the published zoo folder (a clone's models/) "
                         "with --zoo-dir.")
    if not isinstance(max_wheel_bytes, int) or max_wheel_bytes <= 0:
        raise ValueError(f"max_wheel_bytes must be a positive number of bytes. Received: {max_wheel_bytes!r}")
    for task, task_entries in plans:
        _check_files(task, task_entries, zoo_dir, max_wheel_bytes)
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    built = []
    for task, task_entries in plans:
        pattern = os.path.join(out_dir, f"{model_package_module(task)}-{__version__}-*.whl")
        for stale in glob.glob(pattern):
            os.remove(stale)
        source_tree = tempfile.mkdtemp(prefix=f"{model_package_module(task)}-")
        try:
            _write_source_tree(source_tree, task, task_entries, zoo_dir, __version__)
            _pip_wheel(source_tree, out_dir)
        finally:
            shutil.rmtree(source_tree, ignore_errors=True)
        wheels = glob.glob(pattern)
        if len(wheels) != 1:
            raise ValueError(f"pip wheel left {len(wheels)} wheels matching {pattern}, expected one.")
        size = os.path.getsize(wheels[0])
        if size > max_wheel_bytes:
            os.remove(wheels[0])
            raise ValueError(f"{os.path.basename(wheels[0])} is {size} bytes, over the per-file limit of "
                             f"{max_wheel_bytes} bytes; it was deleted.")
        built.append({
            "distribution": model_package_name(task), "version": __version__, "task": task,
            "models": [entry["name"] for entry in task_entries], "wheel": wheels[0], "size_bytes": size,
        })
    return built

