"""`CharLanguageModel`: next-character prediction, in-graph sampling, and per-character scores."""

import keras
import numpy as np
import tensorflow as tf

from kerasrnn.data.text import tbptt_dataset
from kerasrnn.tasks.char_lm.sampler import MAX_GENERATE_LENGTH, MAX_PROMPT_LENGTH, CharStepper, sample_characters
from kerasrnn.tasks.model_parts import reset_states, stateful_copy
from kerasrnn.tasks.char_lm.preprocessor import CharLanguageModelPreprocessor  # noqa: F401  (registers it for loading)
from kerasrnn.tasks.char_lm.reset_states_each_epoch import ResetStatesEachEpoch
from kerasrnn.tasks.char_lm.builder import CharLanguageModelHead
from kerasrnn.tasks.task_model import DEFAULT_BATCH_SIZE, TaskModel

# `evaluate` on a text reads it as this many contiguous streams, the state
# carried across windows of this many characters, so every scored character
# is predicted from all the text before it in its stream.
EVALUATION_STREAMS = 8
EVALUATION_WINDOW = 512


def _texts(x):
    """Raw char LM inputs → a list of strings: one text, texts, or rows of single characters."""
    if isinstance(x, (tf.Tensor, tf.RaggedTensor)):
        x = x.to_list() if isinstance(x, tf.RaggedTensor) else x.numpy().tolist()
    if isinstance(x, np.ndarray):
        x = x.tolist()
    rows = [x] if isinstance(x, (str, bytes)) else list(x)

    def text(row):
        if isinstance(row, bytes):
            return row.decode("utf-8")
        if isinstance(row, str):
            return row
        return "".join(text(character) for character in row)

    return [text(row) for row in rows]


@keras.saving.register_keras_serializable(package="kerasrnn")
class CharLanguageModel(TaskModel):
    """A causal character-level language model with its character set inside.

    The graph is the integer-id network of `build_char_lm` (logits of the
    next character at every step). On raw text: `fit(text)` trains with
    teacher forcing on truncated-BPTT windows of
    `preprocessor.sequence_length` characters; `evaluate(text)` returns the
    cross-entropy in nats and bits per character as `kerasrnn evaluate`
    reports it; `generate` samples with the same in-graph sampler the
    exported `generate` signature runs.

    Args:
        network: the network `build_char_lm` returns.
        preprocessor: a `CharLanguageModelPreprocessor`.

    Example:

    >>> from kerasrnn.tasks.char_lm import CharLanguageModelPreprocessor, build_char_lm
    >>> text = "ROMEO: what light through yonder window breaks? " * 20
    >>> preprocessor = CharLanguageModelPreprocessor(sorted(set(text)), sequence_length=20)
    >>> model = CharLanguageModel(build_char_lm(len(preprocessor.labels), units=8, num_layers=1), preprocessor)
    >>> history = model.fit(text, batch_size=4, epochs=1, verbose=0)
    >>> sorted(model.evaluate(text, return_dict=True, verbose=0))
    ['bits_per_char', 'loss', 'nats_per_char']
    >>> len(model.generate("ROMEO:", length=10, temperature=0.0))
    16
    """

    task_name = "char_lm"

    head_class = CharLanguageModelHead

    def examples(self, x, y=None):
        texts = _texts(x)
        ids = tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string)).map(
            lambda text: self.preprocessor(tf.strings.unicode_split(text, "UTF-8"))
        )
        if y is not None:
            raise ValueError("A char LM learns each text's next characters: pass the texts alone (no `y`).")
        return ids

    def raw_dataset(self, x, y=None, batch_size=None, shuffle=False, seed=None, keep_order=False):
        if keep_order or isinstance(x, tf.data.Dataset):
            return super().raw_dataset(x, y, batch_size, shuffle=shuffle, seed=seed, keep_order=keep_order)
        if y is not None:
            raise ValueError("A char LM learns each text's next characters: pass the text alone (no `y`).")
        texts = _texts(x)
        ids = np.concatenate([self.preprocessor.encode(text) for text in texts])
        windows = tbptt_dataset(ids, batch_size or DEFAULT_BATCH_SIZE, self.preprocessor.sequence_length)
        if shuffle and not self._stateful():
            windows = windows.shuffle(len(windows), seed=seed, reshuffle_each_iteration=True)
        return windows.prefetch(tf.data.AUTOTUNE)

    def _stateful(self):
        return any(getattr(layer, "stateful", False) for layer in self.network.layers)

    def training_callbacks(self):
        """A stateful network (truncated BPTT across batches) starts every epoch from a zero state.

        Returns:
            `[ResetStatesEachEpoch()]` for a stateful network, else `[]`.

        Example:

        >>> from kerasrnn.tasks.char_lm import CharLanguageModelPreprocessor, build_char_lm
        >>> preprocessor = CharLanguageModelPreprocessor(list("ab"), sequence_length=4)
        >>> network = build_char_lm(len(preprocessor.labels), units=4, num_layers=1, stateful=True, batch_size=2)
        >>> [type(callback).__name__ for callback in CharLanguageModel(network, preprocessor).training_callbacks()]
        ['ResetStatesEachEpoch']
        """
        return [ResetStatesEachEpoch()] if self._stateful() else []

    def inference_network(self):
        """The network to save: a stateful one becomes stateless, with no fixed batch size, so it reads any batch.

        Returns:
            A `keras.Model` over integer ids with the same weights.

        Example:

        >>> from kerasrnn.tasks.char_lm import CharLanguageModelPreprocessor, build_char_lm
        >>> preprocessor = CharLanguageModelPreprocessor(list("ab"), sequence_length=4)
        >>> network = build_char_lm(len(preprocessor.labels), units=4, num_layers=1, stateful=True, batch_size=2)
        >>> copy = CharLanguageModel(network, preprocessor).inference_network()
        >>> any(getattr(layer, "stateful", False) for layer in copy.layers), copy.input.shape[0]
        (False, None)
        """
        if self._stateful():
            return stateful_copy(self.network, None)
        return super().inference_network()

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        """Cross-entropy per character; on a raw text, read as carried-state streams.

        Example:

        >>> model.evaluate(validation_text, return_dict=True)  # doctest: +SKIP
        {'bits_per_char': 2.065, 'loss': 1.432, 'nats_per_char': 1.432}
        """
        if not isinstance(x, (str, bytes)):
            return super().evaluate(x, y, batch_size=batch_size, **kwargs)
        streams = batch_size or EVALUATION_STREAMS
        stepper = stateful_copy(self.network, streams)
        stepper.compile(loss=self.default_loss(), metrics=self.default_metrics())
        reset_states(stepper)
        ids = self.preprocessor.encode(x)
        # Windows only bound the work per step (the state is carried across
        # them); a text shorter than the usual window gets a shorter one.
        window = max(1, min(EVALUATION_WINDOW, (len(ids) - 1) // streams))
        return stepper.evaluate(tbptt_dataset(ids, streams, window), **kwargs)

    def generate(self, prompt, length=300, temperature=1.0, seed=None):
        """Continue `prompt` with `length` sampled characters (the exported sampler, run here).

        Args:
            prompt: the text to continue, at most 10,000 characters; every
                character must be known to the model.
            length: how many characters to add, 0 to 2000.
            temperature: >= 0; 0 picks the most likely character (greedy),
                below 1 is more conservative, above 1 more random.
            seed: the sampling seed; the same prompt and seed give the same
                text here, in `kerasrnn generate` and from a served export.

        Returns:
            The prompt followed by the generated characters.

        Example:

        >>> model.generate("ROMEO:", length=20, temperature=0.8, seed=1)  # doctest: +SKIP
        'ROMEO:\\nWhat say you to my'
        """
        if not isinstance(prompt, str) or not prompt:
            raise ValueError(f"`prompt` must be non-empty text. Received: prompt={prompt!r}")
        if len(prompt) > MAX_PROMPT_LENGTH:
            raise ValueError(f"`prompt` has {len(prompt)} characters, over the limit of {MAX_PROMPT_LENGTH} "
                             "(each is one sequential step): give its last part.")
        unknown = sorted(set(prompt) - set(self.preprocessor.characters))
        if unknown:
            raise ValueError(f"`prompt` has characters the model never saw: {unknown}")
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or not 0 <= length <= MAX_GENERATE_LENGTH:
            raise ValueError(f"`length` must be an integer from 0 to {MAX_GENERATE_LENGTH}. Received: length={length!r}")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature >= 0 or temperature == float("inf"):
            raise ValueError(f"`temperature` must be a finite number >= 0 (0 = greedy). Received: temperature={temperature!r}")
        if seed is None:
            seed = int(np.random.default_rng().integers(2**62))
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not -(2**63) <= seed < 2**63:
            raise ValueError(f"`seed` must be a 64-bit integer. Received: seed={seed!r}")
        text = self.sampler()(
            tf.constant([prompt]),
            tf.constant([length], tf.int32),
            tf.constant([temperature], tf.float32),
            tf.constant([seed], tf.int64),
        )
        return text[0].numpy().decode("utf-8")

    def sampler(self):
        """The `tf.function(prompt, max_length, temperature, seed) -> text` behind `generate` and the export."""
        if getattr(self, "_sampler", None) is None:
            stepper = CharStepper(self.network)  # steps the cells: a stateful network works too
            characters = tf.constant(self.preprocessor.labels)

            @tf.function(
                input_signature=[
                    tf.TensorSpec([None], tf.string, name="prompt"),
                    tf.TensorSpec([None], tf.int32, name="max_length"),
                    tf.TensorSpec([None], tf.float32, name="temperature"),
                    tf.TensorSpec([None], tf.int64, name="seed"),
                ]
            )
            def sample(prompt, max_length, temperature, seed):
                return sample_characters(
                    stepper, self.preprocessor.lookup, characters, prompt, max_length, temperature, seed
                )

            self._sampler = sample
        return self._sampler

    def serving_endpoints(self):
        from kerasrnn.tasks.char_lm.signatures import char_lm_endpoints

        return char_lm_endpoints(self)

    def predict_text(self, text):
        raise ValueError("This is a character language model: use `kerasrnn generate` (or `model.generate`).")
