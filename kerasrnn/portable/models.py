"""The task models' text methods over an exported graph: numpy and onnxruntime or ai-edge-litert, no TensorFlow."""

import json
import math
import os

import numpy as np

from kerasrnn.portable import text as preprocessing
from kerasrnn.portable.philox import stateless_uniform
from kerasrnn.portable.runtimes import open_runner

MODEL_FILE, PREPROCESSING_FILE = "model.json", "preprocessing.json"
SCHEMA_VERSION = 1
# As `kerasrnn.tasks.char_lm.sampler.MAX_GENERATE_LENGTH` (not imported: that module imports TensorFlow).
MAX_GENERATE_LENGTH = 2000
MAX_PROMPT_LENGTH = 10_000  # As `kerasrnn.tasks.char_lm.sampler.MAX_PROMPT_LENGTH`.


class PortableModel:
    """An exported kerasrnn model: its graph's runner, `model.json` and `preprocessing.json`.

    Use `kerasrnn.portable.load`, which picks the task's subclass.

    Attributes:
        path: the version folder.
        task: `"sentiment"`, `"pos_tagger"` or `"char_lm"`.
        format: `"onnx"` or `"litert"`.
        description: `model.json` (inputs, output, states, the measured difference to Keras).
        preprocessing: `preprocessing.json` (vocabulary, labels, characters).
        runner: the `OnnxRunner` or `LiteRtRunner` (called with keyword arrays).

    Example:

    >>> model = load("export/imdb-onnx/1")  # doctest: +SKIP
    >>> model.run(token_ids=np.array([[12, 7, 0]], "int32"))["probabilities"].shape  # doctest: +SKIP
    (1, 2)
    """

    task = None

    def __init__(self, path, description, preprocessing_config, threads=None):
        self.path = path
        self.description = description
        self.preprocessing = preprocessing_config
        self.format = description["format"]
        self.runner = open_runner(self.format, os.path.join(path, description["file"]), threads=threads)
        self.output_name = description["output"]["name"]

    def run(self, **inputs):
        """The graph on id arrays (as `model.json` names them); returns `{output name: array}`."""
        return self.runner(**inputs)

    def __repr__(self):
        return f"<{type(self).__name__} {self.task} {self.format} from {self.path!r}>"


class PortableSentimentClassifier(PortableModel):
    """`SentimentClassifier`'s `predict` and `predict_text` on an exported graph.

    Example:

    >>> model = load("export/imdb-onnx/1")  # doctest: +SKIP
    >>> model.predict_text("A wonderful, moving film.")["label"]  # doctest: +SKIP
    'pos'
    """

    task = "sentiment"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.labels = list(self.preprocessing["labels"])
        self.word_index = preprocessing.index_of(self.preprocessing["vocabulary"][2:], 2)

    def encode(self, texts):
        """Reviews → right-padded word ids `(batch, longest)`, as `SentimentPreprocessor`."""
        return preprocessing.review_ids(texts, self.word_index, self.preprocessing["max_length"])

    def predict(self, texts):
        """Class probabilities `(batch, classes)` of a list of reviews (one padded batch)."""
        return self.run(token_ids=self.encode(list(texts)))[self.output_name]

    def predict_text(self, text):
        """Classify one review: `{"label": name, "probabilities": {name: p}}`, as `SentimentClassifier.predict_text`."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"The review to classify must be non-empty text. Received: {text!r}")
        probabilities = self.predict([text])[0]
        return {
            "label": self.labels[int(np.argmax(probabilities))],
            "probabilities": {name: float(p) for name, p in zip(self.labels, probabilities)},
        }


class PortablePosTagger(PortableModel):
    """`PosTagger`'s `predict` and `predict_text` on an exported graph.

    Example:

    >>> model = load("export/ewt-litert/1")  # doctest: +SKIP
    >>> model.predict_text("The dog barks .")  # doctest: +SKIP
    [('The', 'DET'), ('dog', 'NOUN'), ('barks', 'VERB'), ('.', 'PUNCT')]
    """

    task = "pos_tagger"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        config = self.preprocessing
        self.tags = list(config["tags"])
        self.word_index = preprocessing.index_of(config["vocabulary"][2:], 2)
        characters = config.get("characters")
        self.character_index = None if characters is None else preprocessing.index_of(characters, 2)

    def encode(self, sentences):
        """Word lists → `{"token_ids", "char_ids"}` right-padded, as `PosTaggerPreprocessor`."""
        return preprocessing.sentence_ids(sentences, self.word_index, self.character_index,
                                          self.preprocessing.get("max_word_length") or 20)

    def predict(self, sentences):
        """Tag probabilities `(batch, words, tags)` of word lists (one padded batch)."""
        return self.run(**self.encode([list(words) for words in sentences]))[self.output_name]

    def predict_text(self, text):
        """Tag a whitespace-tokenized sentence: `[(word, tag), ...]`, as `PosTagger.predict_text`."""
        words = text.split() if isinstance(text, str) else []
        if not words:
            raise ValueError(f"The sentence to tag must be non-empty text. Received: {text!r}")
        scores = self.predict([words])[0]
        return [(word, self.tags[int(index)]) for word, index in zip(words, np.argmax(scores, axis=-1))]


class PortableCharLanguageModel(PortableModel):
    """`CharLanguageModel.generate` on an exported step graph that takes and returns the recurrent states.

    The prompt is read in one call, then each sampled character in one
    call of one step. It samples as `CharLanguageModel.generate` does
    (Gumbel-max on `logits / temperature`, never the unknown class), with
    TensorFlow's stateless random numbers for `(seed, step)` recomputed in
    numpy (`kerasrnn.portable.philox`): the same prompt, temperature and
    seed give the same text as Keras, in both runtimes; at temperature 0,
    the most likely known character at each step. (Only where two scaled
    logits tie to within float32 rounding could a runtime pick the other.)

    Example:

    >>> model = load("export/shakespeare-onnx/1")  # doctest: +SKIP
    >>> model.generate("ROMEO:", length=20, temperature=0.0)  # doctest: +SKIP
    'ROMEO:\\nI will not stay the c'
    """

    task = "char_lm"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.characters = list(self.preprocessing["characters"])
        self.labels = list(self.preprocessing["labels"])
        self.character_index = preprocessing.index_of(self.characters, 1)
        self.states = self.description["states"]

    def initial_states(self, batch_size=1):
        """Zero states, `{state input name: (batch, size)}`."""
        return {state["input"]: np.zeros((batch_size, state["size"]), "float32") for state in self.states}

    def step(self, ids, states):
        """Feed `(batch, time)` ids from `states`; returns `(logits (batch, time, V), new states)`."""
        outputs = self.run(token_ids=np.asarray(ids, "int32"), **states)
        return outputs[self.output_name], {state["input"]: outputs[state["output"]] for state in self.states}

    def generate(self, prompt, length=300, temperature=1.0, seed=None):
        """Continue `prompt` with `length` sampled characters, as `CharLanguageModel.generate`.

        Args:
            prompt: the text to continue; every character must be known to the model.
            length: how many characters to add, 0 to 2000.
            temperature: >= 0; 0 picks the most likely character (greedy).
            seed: the sampling seed (a 64-bit integer; None picks one); the same prompt and seed give the
                same text here, in `CharLanguageModel.generate` and from a served SavedModel.

        Returns:
            The prompt followed by the generated characters.
        """
        if not isinstance(prompt, str) or not prompt:
            raise ValueError(f"`prompt` must be non-empty text. Received: prompt={prompt!r}")
        if len(prompt) > MAX_PROMPT_LENGTH:
            raise ValueError(f"`prompt` has {len(prompt)} characters, over the limit of {MAX_PROMPT_LENGTH} "
                             "(each is one sequential step): give its last part.")
        unknown = sorted(set(prompt) - set(self.characters))
        if unknown:
            raise ValueError(f"`prompt` has characters the model never saw: {unknown}")
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or not 0 <= length <= MAX_GENERATE_LENGTH:
            raise ValueError(f"`length` must be an integer from 0 to {MAX_GENERATE_LENGTH}. Received: length={length!r}")
        if (isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature >= 0
                or math.isinf(temperature)):
            raise ValueError(f"`temperature` must be a finite number >= 0 (0 = greedy). Received: temperature={temperature!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or not -(2**63) <= seed < 2**63):
            raise ValueError(f"`seed` must be a 64-bit integer. Received: seed={seed!r}")
        if seed is None:
            seed = int(np.random.default_rng().integers(2**62))
        logits, states = self.step(preprocessing.character_ids(prompt, self.character_index)[None, :],
                                   self.initial_states())
        logits = logits[0, -1].astype("float32")
        never_unknown = np.zeros_like(logits)
        never_unknown[0] = -1e9  # never emit the unknown-character class, as the Keras sampler does not
        picked = []
        for position in range(length):
            scores = logits
            if temperature > 0:
                # The Keras sampler's Gumbel-max draw, number for number: TensorFlow's stateless uniform
                # of (seed, step) in [1e-20, 1), then -log(-log(u)) added to the scaled logits.
                uniform = stateless_uniform(len(logits), (seed, position)) + np.float32(1e-20)
                scores = logits / np.float32(max(temperature, 1e-12)) - np.log(-np.log(uniform))
            picked.append(int(np.argmax(scores + never_unknown)))
            if position < length - 1:
                logits, states = self.step([[picked[-1]]], states)
                logits = logits[0, -1]
        return prompt + "".join(self.labels[index] for index in picked)

    def predict_text(self, text):
        raise ValueError("This is a character language model: use `generate`.")


TASKS = {model.task: model for model in (PortableSentimentClassifier, PortablePosTagger, PortableCharLanguageModel)}


def _version_folder(path):
    if os.path.isfile(os.path.join(path, MODEL_FILE)):
        return path
    versions = sorted(int(name) for name in os.listdir(path) if name.isascii() and name.isdigit()
                      and os.path.isfile(os.path.join(path, name, MODEL_FILE))) if os.path.isdir(path) else []
    if not versions:
        raise FileNotFoundError(f"`path`: {path!r} is not a kerasrnn portable export (no {MODEL_FILE} in it or in an "
                                "integer version folder under it); write one with `kerasrnn export MODEL --format "
                                "onnx` or `--format litert`.")
    return os.path.join(path, str(versions[-1]))


def load(path, threads=None):
    """Open a portable export (`kerasrnn export --format onnx|litert`) as its task's model, without TensorFlow.

    Args:
        path: the version folder (`export/NAME/<version>`), or the base
            folder, whose newest version is loaded.
        threads: the runtime's thread count (None: its default).

    Returns:
        A `PortableSentimentClassifier` (`predict_text`, `predict`), a
        `PortablePosTagger` (`predict_text`, `predict`) or a
        `PortableCharLanguageModel` (`generate`).

    Example:

    >>> load("/no/such/export")
    Traceback (most recent call last):
    ...
    FileNotFoundError: `path`: '/no/such/export' is not a kerasrnn portable export (no model.json in it or in an integer version folder under it); write one with `kerasrnn export MODEL --format onnx` or `--format litert`.
    """
    folder = _version_folder(os.fspath(path))
    with open(os.path.join(folder, MODEL_FILE), encoding="utf-8") as file:
        description = json.load(file)
    if description.get("kerasrnn_portable") != SCHEMA_VERSION or description.get("task") not in TASKS:
        raise ValueError(f"`path`: {os.path.join(folder, MODEL_FILE)!r} is not a kerasrnn portable export of version "
                         f"{SCHEMA_VERSION} (task {description.get('task')!r}); export the model again with this "
                         "kerasrnn.")
    with open(os.path.join(folder, PREPROCESSING_FILE), encoding="utf-8") as file:
        preprocessing_config = json.load(file)
    return TASKS[description["task"]](folder, description, preprocessing_config, threads=threads)
