"""The char LM's `generate` over a portable (ONNX / LiteRT) export of its step graph.

No TensorFlow: `kerasrnn.portable.load` finds this class through the task registry.
"""

import math

import numpy as np

from kerasrnn.portable import text as preprocessing
from kerasrnn.portable.models import PortableModel, load  # noqa: F401 (the examples use load)
from kerasrnn.portable.philox import stateless_uniform
from kerasrnn.tasks.char_lm.generation_limits import MAX_GENERATE_LENGTH, MAX_PROMPT_LENGTH


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


# What `TaskDescription.portable_model()` returns.
PORTABLE_MODEL = PortableCharLanguageModel
