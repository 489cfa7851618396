"""Model wheels: `kerasrnn zoo package` builds them with pip, pip installs them, zoo names load from them.

The wheel is the real `kerasrnn-zoo-char-lm` built from the clone's `models/`
(the smallest task: 24 MB), installed with `pip install --no-deps --target`
into a temporary folder that a fresh process gets on its PYTHONPATH.
"""

import configparser
import importlib
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

import kerasrnn
from kerasrnn import zoo
from kerasrnn.cli import main
from kerasrnn.zoo.download import DEFAULT_ZOO_DIR, NO_ORIGIN
from kerasrnn.zoo.index import find_entry, read_index
from kerasrnn.zoo.model_packages import model_package_name, model_package_requirements, packaged_model_file
from kerasrnn.zoo import packaging
from kerasrnn.zoo.packaging import PYPI_FILE_LIMIT_BYTES, build_model_wheels
from kerasrnn.zoo.presets import model_file

NAME = "charlm-shakespeare-rnn"
PACKAGE = "kerasrnn-zoo-char-lm"
REPOSITORY = os.path.dirname(DEFAULT_ZOO_DIR)
zoo_download = importlib.import_module("kerasrnn.zoo.download")


@pytest.fixture(scope="module")
def char_lm_wheel(tmp_path_factory):
    """The char LM model wheel, built once: (what build_model_wheels returned, the folder it is installed in)."""
    out = tmp_path_factory.mktemp("models-dist")
    (built,) = build_model_wheels(str(out), names=[NAME])
    site = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--disable-pip-version-check",
         "--target", str(site), built["wheel"]],
        check=True, capture_output=True, timeout=120,
    )
    return built, site


@pytest.fixture
def clean_environment(tmp_path, monkeypatch):
    """No origin, a fresh KERASRNN_HOME, downloads forbidden."""
    monkeypatch.delenv("KERASRNN_ZOO_URL", raising=False)
    monkeypatch.setenv("KERASRNN_OFFLINE", "1")
    monkeypatch.setenv("KERASRNN_HOME", str(tmp_path / "home"))


def test_the_wheel_holds_its_tasks_models_an_index_and_an_entry_point(char_lm_wheel):
    built, _ = char_lm_wheel
    version = kerasrnn.__version__
    assert built["distribution"] == PACKAGE and built["version"] == version
    assert os.path.basename(built["wheel"]) == f"kerasrnn_zoo_char_lm-{version}-py3-none-any.whl"
    assert built["size_bytes"] == os.path.getsize(built["wheel"]) < PYPI_FILE_LIMIT_BYTES
    char_lm_models = sorted(entry["name"] for entry in read_index() if entry["task"] == "char_lm")
    assert built["models"] == char_lm_models and NAME in char_lm_models
    with zipfile.ZipFile(built["wheel"]) as wheel:
        files = set(wheel.namelist())
        info = f"kerasrnn_zoo_char_lm-{version}.dist-info"
        metadata = wheel.read(f"{info}/METADATA").decode()
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    assert {f"kerasrnn_zoo_char_lm/{name}.keras" for name in char_lm_models} <= files
    assert "kerasrnn_zoo_char_lm/index.json" in files
    assert f"Name: {PACKAGE}\n" in metadata and f"Version: {version}\n" in metadata
    assert f"Requires-Dist: kerasrnn=={version}" in metadata
    assert "[kerasrnn.zoo]\nchar_lm = kerasrnn_zoo_char_lm" in entry_points


def test_a_fresh_process_loads_a_packaged_model_offline_and_writes_no_cache(tmp_path, char_lm_wheel):
    """What a user gets after `pip install "kerasrnn[zoo]"`: names load from the package, with no origin, offline."""
    _, site = char_lm_wheel
    code = """
import sys
from kerasrnn import CharLanguageModel, zoo
from kerasrnn.cli import main
from kerasrnn.zoo.presets import model_file

name = sys.argv[1]
print(model_file(name))
print(zoo.download(name))
print(type(CharLanguageModel.from_preset(name)).__name__)
print(repr(zoo.load(name).generate("ROMEO:", length=20, seed=3)))
sys.exit(main(["generate", name, "--prompt", "ROMEO:", "--length", "20", "--seed", "3"]))
"""
    env = {key: value for key, value in os.environ.items() if key not in ("KERASRNN_ZOO_URL", "PYTHONPATH")}
    env.update(PYTHONPATH=str(site), KERASRNN_OFFLINE="1", KERASRNN_HOME=str(tmp_path / "home"),
               TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", code, NAME], capture_output=True, text=True, env=env,
                            cwd=str(tmp_path), timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    packaged = os.path.join(str(site), "kerasrnn_zoo_char_lm", f"{NAME}.keras")
    assert lines[:3] == [packaged, packaged, "CharLanguageModel"], result.stdout
    generated = eval(lines[3])  # the repr of a str
    assert generated.startswith("ROMEO:") and "\n".join(lines[4:]) == generated
    assert not (tmp_path / "home").exists()  # nothing downloaded, nothing copied


def test_a_damaged_packaged_file_is_a_one_line_error_saying_how_to_reinstall(
    tmp_path, monkeypatch, char_lm_wheel, clean_environment, capsys
):
    _, site = char_lm_wheel
    damaged = tmp_path / "damaged-site"
    shutil.copytree(site, damaged)
    path = damaged / "kerasrnn_zoo_char_lm" / f"{NAME}.keras"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    monkeypatch.syspath_prepend(str(damaged))
    version = kerasrnn.__version__
    expected = (rf"Zoo model '{NAME}' in the installed model package {PACKAGE} {version} \(.*{NAME}\.keras\) is "
                rf"damaged or of another version \(sha256 .*\): reinstall it with `pip install --force-reinstall "
                rf'--no-deps "{PACKAGE}=={version}"`\.$')
    with pytest.raises(ValueError, match=expected) as error:
        zoo.load(NAME)
    assert "\n" not in str(error.value)
    assert main(["zoo", "download", NAME]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "--force-reinstall" in captured.err
    path.unlink()
    with pytest.raises(ValueError, match=r"its file is missing\): reinstall it"):
        model_file(NAME)
    assert not (tmp_path / "home").exists()


def test_models_no_installed_package_lists_go_on_to_the_cache_and_the_origin(monkeypatch, char_lm_wheel):
    _, site = char_lm_wheel
    monkeypatch.syspath_prepend(str(site))
    assert packaged_model_file(find_entry(NAME)).startswith(str(site))
    assert packaged_model_file(find_entry("sentiment-imdb-birnn")) is None


def test_an_unknown_name_is_a_clear_error_and_builds_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    near = r"Unknown zoo model 'charlm-shakespeare-rn'\. Did you mean .*'charlm-shakespeare-rnn'"
    with pytest.raises(ValueError, match=near):
        build_model_wheels(str(out), names=["charlm-shakespeare-rn"])
    assert main(["zoo", "package", "nope", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("kerasrnn zoo: error: Unknown zoo model 'nope'.")
    assert not out.exists()


def test_a_wheel_over_the_size_limit_is_refused_before_building(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=rf"The {PACKAGE} wheel would hold \d+ bytes of models, over the per-file "
                                         r"limit of 1000000 bytes \(PyPI's default is 100 MiB\).*nothing was built"):
        build_model_wheels(str(out), names=[NAME], max_wheel_bytes=1_000_000)
    assert not out.exists()


def test_a_built_wheel_over_the_size_limit_is_deleted(tmp_path, monkeypatch):
    """The check after pip: the wheel itself, whatever the files' sizes promised."""
    monkeypatch.setattr(packaging, "_check_files", lambda *args: None)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"kerasrnn_zoo_char_lm-.*\.whl is \d+ bytes, over the per-file limit of "
                                         r"1000000 bytes; it was deleted\."):
        build_model_wheels(str(out), names=[NAME], max_wheel_bytes=1_000_000)
    assert os.listdir(out) == []


def test_every_tasks_wheel_fits_pypis_file_limit():
    for task in {entry["task"] for entry in read_index()}:
        # An average has no file (its members' are in the same wheel).
        total = sum(entry.get("size_bytes", 0) for entry in read_index() if entry["task"] == task)
        assert total < PYPI_FILE_LIMIT_BYTES, f"{model_package_name(task)} would hold {total} bytes"


def test_a_missing_or_different_model_file_is_refused(tmp_path):
    zoo_dir = tmp_path / "zoo"
    zoo_dir.mkdir()
    with pytest.raises(ValueError, match=rf"charlm-shakespeare-gru\.keras is missing: the {PACKAGE} wheel holds every "
                                         "char_lm model"):
        build_model_wheels(str(tmp_path / "out"), names=[NAME], zoo_dir=str(zoo_dir))
    for entry in read_index():
        if entry["task"] == "char_lm":
            os.symlink(os.path.join(DEFAULT_ZOO_DIR, entry["file"]), zoo_dir / entry["file"])
    (zoo_dir / f"{NAME}.keras").unlink()
    (zoo_dir / f"{NAME}.keras").write_bytes(b"not the published model")
    with pytest.raises(ValueError, match=rf"is not the file kerasrnn's index lists for {NAME} \(sha256"):
        build_model_wheels(str(tmp_path / "out"), names=[NAME], zoo_dir=str(zoo_dir))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "arguments, expected",
    [
        (dict(names=NAME), r"names must be a list of zoo model names\. Received: 'charlm-shakespeare-rnn'"),
        (dict(zoo_dir="/no/such/folder"), r"zoo_dir: '/no/such/folder' is not a folder"),
        (dict(max_wheel_bytes=0), r"max_wheel_bytes must be a positive number of bytes\. Received: 0"),
    ],
)
def test_bad_arguments_are_one_line_errors(tmp_path, arguments, expected):
    with pytest.raises(ValueError, match=expected):
        build_model_wheels(str(tmp_path / "out"), **arguments)


def test_the_zoo_extra_pins_every_model_wheel_at_this_version():
    config = configparser.ConfigParser()
    config.read(os.path.join(REPOSITORY, "setup.cfg"))
    assert config["metadata"]["version"] == kerasrnn.__version__
    listed = [line.strip() for line in config["options.extras_require"]["zoo"].splitlines() if line.strip()]
    assert listed == model_package_requirements()


def test_without_an_origin_the_error_says_the_pip_way_first(tmp_path, monkeypatch, clean_environment):
    assert NO_ORIGIN.index('pip install "kerasrnn[zoo]"') < NO_ORIGIN.index("KERASRNN_ZOO_URL")
    for requirement in model_package_requirements():
        assert requirement.split("==")[0] in NO_ORIGIN
    monkeypatch.setattr(zoo_download, "DEFAULT_ZOO_DIR", str(tmp_path / "no-models-here"))
    monkeypatch.delenv("KERASRNN_OFFLINE")
    with pytest.raises(ValueError, match=r"No zoo origin is set .*pip install \"kerasrnn\[zoo\]\""):
        zoo.load(NAME)
