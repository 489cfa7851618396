"""The README's Python examples, each run as a user pastes it: in a fresh interpreter.

Every ```python block is one example and runs in its own new process, in a
working folder beside a `../shared` that points at the real data (the
README's paths are relative to the repository root, whose parent holds
`shared/`). A block that says it continues the one before (the task-model
block continues the builder block) runs after it, in the same process, as
the README tells the user to run it. After each example the test checks what
the README shows: the printed lines, the class `load_model` returns, a
validation split that holds both labels.
"""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared"))
README = os.path.join(ROOT, "README.md")


def python_examples():
    """The README's Python blocks, each with the sentence that introduces it."""
    text = open(README, encoding="utf-8").read()
    return [(match.group(1), match.group(2)) for match in
            re.finditer(r"((?:[^\n]*\n){1,3})\n?```python\n(.*?)```", text, re.DOTALL)]


@pytest.fixture(scope="module")
def working_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readme")
    os.symlink(SHARED, folder / "shared")
    (folder / "work").mkdir()
    return folder / "work"


def run_example(code, working_folder, checks=""):
    """Run `code` (then the test's `checks`) in a fresh interpreter; returns its stdout lines."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("KERASRNN_")}
    environment.update(TF_CPP_MIN_LOG_LEVEL="3", KERASRNN_HOME=str(working_folder / ".home"))
    result = subprocess.run([sys.executable, "-c", code + "\n" + checks], cwd=working_folder, env=environment,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    return [line for line in result.stdout.splitlines() if line.strip()]


def test_the_readme_has_the_examples_this_file_checks():
    blocks = [code for _, code in python_examples()]
    assert len(blocks) == 7, [block.splitlines()[0] for block in blocks]
    assert "build_sentiment_classifier" in blocks[0] and "SentimentClassifier(" in blocks[1]
    assert "continuing the example above" in python_examples()[1][0]
    assert "load_model" in blocks[2] and "from_preset" in blocks[3]
    assert "average_of" in blocks[4] and "portable.load" in blocks[5] and "gradient_flow" in blocks[6]


def test_building_and_task_model_examples(working_folder):
    (_, build), (_, task_model), (_, load), *_ = python_examples()
    # Without seed=0 the labels come sorted and the validation fifth is all positive reviews.
    checks = (
        "validation = labels[::10][-500:]\n"
        "assert 0.4 < validation.mean() < 0.6, validation.mean()\n"
        "assert 0.35 < history.history['val_accuracy'][0] <= 1.0, history.history\n"
        "assert model.output_shape == (None, 2)\n"
        "assert type(keras.saving.load_model('sentiment.keras')).__name__ == 'SentimentClassifier'\n"
    )
    lines = run_example(build + task_model, working_folder, checks)
    assert [line for line in lines if re.fullmatch(r"\[0\.\d+\]", line)], lines  # print(history...["val_accuracy"])
    # The saved classifier, in a fresh process after a plain `import kerasrnn`, as the README shows.
    assert run_example(load, working_folder) == ["SentimentClassifier", "['label', 'probabilities']"]


def test_zoo_example_prints_what_the_readme_shows(working_folder):
    _, code = python_examples()[3]
    lines = run_example(code, working_folder)
    names = eval(lines[0])  # noqa: S307  the printed list of names, from our own process
    assert "pos-ewt-bilstm" in names and names == sorted(names)
    shown = re.search(r'print\(tagger\.predict_text\("The dog barks \."\)\)\s+# (.*)', code).group(1)
    assert lines[1] == shown.strip(), (lines[1], shown)
    generated = "\n".join(lines[[line.startswith("ROMEO:") for line in lines].index(True):])
    assert len(generated) >= 150, lines  # generate(length=200) prints the prompt and 200 characters


def test_averaging_example_saves_a_tagger(working_folder):
    _, code = python_examples()[4]
    run_example(code, working_folder, "import keras\nassert type(keras.saving.load_model('tagger.keras')).__name__ == 'PosTagger'")


def test_portable_example_runs_the_exports_without_tensorflow(working_folder):
    # The README's `kerasrnn export ... --format onnx|litert` lines first (in one process), then its block.
    text = open(README, encoding="utf-8").read()
    exports = re.findall(r"^(kerasrnn export \S+ --format (?:onnx|litert) --base-path \S+)", text, re.MULTILINE)
    assert len(exports) == 3, exports
    commands = "; ".join(f"assert main({line.split()[1:]!r}) == 0" for line in exports)
    run_example(f"from kerasrnn.cli import main; {commands}", working_folder)
    _, code = python_examples()[5]
    no_tensorflow = "import sys\nassert not [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]"
    label, tags, *generated = run_example(code, working_folder, no_tensorflow)
    assert label in ("neg", "pos") and [word for word, _ in eval(tags)] == ["The", "dog", "barks", "."]  # noqa: S307
    assert "\n".join(generated).startswith("ROMEO:")


def test_diagnostics_example_prints_finite_figures(working_folder):
    _, code = python_examples()[6]
    lines = run_example(code, working_folder)
    decay, spectrum, monitor = lines[-3:]
    assert -1.0 < float(decay) < 0.0, decay
    assert set(eval(spectrum)) == {"max_singular_value", "spectral_radius"}  # noqa: S307
    assert monitor.startswith("[") and "nan" not in monitor
