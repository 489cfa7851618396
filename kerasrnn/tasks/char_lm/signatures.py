"""Char LM signatures: next-character probabilities, and in-graph `generate`."""

import tensorflow as tf

from kerasrnn.export.endpoint import Endpoint
from kerasrnn.tasks.char_lm.sampler import MAX_GENERATE_LENGTH


def char_lm_endpoints(model):
    """The char LM's `serving_default` and `generate` signatures.

    `serving_default`: input `text` (string, `[batch]`, not empty) →
    `probabilities` (float32, `[batch, V]`: softmax of the next-character
    logits after the whole text), `next_character` (string, `[batch]`: the
    most likely known character) and `characters` (string, `[batch, V]`: the
    character each probability belongs to; `[UNK]` first).

    `generate`: inputs `prompt` (string), `max_length` (int32),
    `temperature` (float32, 0 = greedy) and `seed` (int64), each `[batch]` →
    `text` (string, `[batch]`): the prompt and its continuation, sampled in a
    `tf.while_loop` that carries the recurrent state: the same function as
    `CharLanguageModel.generate`, so a seed gives the same text everywhere.

    Args:
        model: a `CharLanguageModel`.

    Returns:
        A list of two `Endpoint`s.

    Example:

    >>> [e.name for e in char_lm_endpoints(model)]  # doctest: +SKIP
    ['serving_default', 'generate']
    """
    names = model.preprocessor.labels
    characters = tf.constant(names)
    sampler = model.sampler()

    @tf.function
    def serving_default(text):
        split = tf.strings.unicode_split(text, "UTF-8")
        lengths = split.row_lengths()
        with tf.control_dependencies([tf.debugging.assert_positive(lengths, message="text must not be empty")]):
            # Padding "" after a text cannot change its last step: the LM is causal.
            logits = model(model.preprocessor(split.to_tensor("")), training=False)
        probabilities = tf.nn.softmax(tf.gather(logits, lengths - 1, batch_dims=1), axis=-1)
        best_known = tf.argmax(probabilities[:, 1:], axis=-1) + 1
        return {
            "probabilities": probabilities,
            "next_character": tf.gather(characters, best_known),
            "characters": tf.tile(characters[None, :], [tf.shape(text)[0], 1]),
        }

    @tf.function
    def generate(prompt, max_length, temperature, seed):
        return {"text": sampler(prompt, max_length, temperature, seed)}

    sample = "".join(character for character in "First Citizen:\n" if character in names[1:]) or names[-1]
    return [
        Endpoint(
            "serving_default",
            serving_default,
            [tf.TensorSpec([None], tf.string, name="text")],
            {"text": [sample]},
            "text: one non-empty string per row; probabilities[i] is for characters[i] ([UNK] first).",
        ),
        Endpoint(
            "generate",
            generate,
            [
                tf.TensorSpec([None], tf.string, name="prompt"),
                tf.TensorSpec([None], tf.int32, name="max_length"),
                tf.TensorSpec([None], tf.float32, name="temperature"),
                tf.TensorSpec([None], tf.int64, name="seed"),
            ],
            {"prompt": [sample], "max_length": [20], "temperature": [0.8], "seed": [1]},
            f"prompt: known characters only; max_length: 0..{MAX_GENERATE_LENGTH}; temperature: >= 0 "
            "(0 = greedy); seed: the same prompt and seed give the same text.",
        ),
    ]
