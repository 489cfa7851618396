"""Character sampling inside the graph: a `tf.while_loop` that carries the RNN state.

TF Serving runs a signature once per request, so `generate` must do all its
steps inside the graph. The integer-id char LM is unrolled here one
character at a time by calling each recurrent layer's cell directly with the
state the previous step returned.
"""

import keras
import tensorflow as tf

from kerasrnn.tasks.char_lm.generation_limits import MAX_GENERATE_LENGTH, MAX_PROMPT_LENGTH  # noqa: F401 (re-exported)


class CharStepper:
    """Run an integer-id char LM (Embedding → RNN layers → Dense) one step at a time.

    Args:
        core: the integer-id char LM `build_char_lm` returns (stateless).

    Example:

    >>> from kerasrnn.tasks.char_lm import build_char_lm
    >>> stepper = CharStepper(build_char_lm(vocab_size=5, units=4, num_layers=2))
    >>> states = stepper.initial_states(3)
    >>> logits, states = stepper.step(tf.constant([1, 2, 3]), states)
    >>> tuple(logits.shape), len(states)
    ((3, 5), 4)
    """

    def __init__(self, core):
        self.embedding, self.cells, self.head = None, [], None
        for layer in core.layers:
            if isinstance(layer, (keras.layers.InputLayer, keras.layers.Dropout)):
                continue  # Dropout is the identity at inference.
            if isinstance(layer, keras.layers.Embedding) and self.embedding is None:
                self.embedding = layer
            elif isinstance(layer, keras.layers.RNN) and self.head is None:
                self.cells.append(layer.cell)
            elif isinstance(layer, keras.layers.Dense) and self.head is None:
                self.head = layer
            else:
                raise ValueError(
                    f"Cannot step layer {layer.name!r} ({type(layer).__name__}): a char LM to export must be "
                    "Embedding → SimpleRNN/LSTM/GRU layers → Dense, as `build_char_lm` makes it."
                )
        if self.embedding is None or not self.cells or self.head is None:
            raise ValueError(f"{core.name!r} is not an Embedding → RNN → Dense char LM.")

    def initial_states(self, batch_size):
        """Zero states for every cell, flattened into one list of `[batch, size]` tensors."""
        return [
            tf.zeros([batch_size, size], self.head.compute_dtype)
            for cell in self.cells
            for size in tf.nest.flatten(cell.state_size)
        ]

    def step(self, ids, states, keep=None):
        """Feed one character id per row; returns `(logits [batch, V], new states)`.

        Rows where `keep` is False keep their old state (for prompts shorter
        than the longest one in the batch).
        """
        x = self.embedding(ids)
        new_states, offset = [], 0
        for cell in self.cells:
            count = len(tf.nest.flatten(cell.state_size))
            old = states[offset : offset + count]
            x, updated = cell(x, list(old), training=False)
            updated = tf.nest.flatten(updated)
            if keep is not None:
                updated = [tf.where(keep[:, None], new, prev) for new, prev in zip(updated, old)]
            new_states.extend(updated)
            offset += count
        return self.head(x), new_states


def _check_inputs(prompt_ids, prompt_lengths, max_length, temperature):
    padding = tf.logical_not(tf.sequence_mask(prompt_lengths, tf.shape(prompt_ids)[1]))
    known = tf.logical_or(prompt_ids > 0, padding)
    return [
        tf.debugging.assert_positive(prompt_lengths, message="prompt must not be empty"),
        tf.debugging.assert_equal(
            tf.reduce_all(known), True, message="prompt has characters the model never saw"
        ),
        tf.debugging.assert_non_negative(max_length, message="max_length must be >= 0"),
        tf.debugging.assert_less_equal(
            max_length, MAX_GENERATE_LENGTH, message=f"max_length must be <= {MAX_GENERATE_LENGTH}"
        ),
        tf.debugging.assert_non_negative(temperature, message="temperature must be >= 0 (0 = greedy)"),
        tf.debugging.assert_equal(
            tf.shape(prompt_lengths)[0], tf.shape(max_length)[0], message="all inputs need the same batch size"
        ),
    ]


def sample_characters(stepper, lookup, characters, prompt, max_length, temperature, seed):
    """Continue each prompt with up to `max_length` sampled characters, in the graph.

    Args:
        stepper: a `CharStepper` over the model's integer-id core.
        lookup: the model's `StringLookup` from characters to ids (unknown → 0).
        characters: string tensor `[V]`, the name of every id (`[UNK]` first).
        prompt: string `[batch]`, the texts to continue (known characters only).
        max_length: int32 `[batch]`, characters to add to each prompt.
        temperature: float32 `[batch]`; 0 picks the most likely character.
        seed: int64 `[batch]`; a row's text depends only on its own inputs.

    Returns:
        string `[batch]`: each prompt followed by its generated characters.

    Example:

    >>> sample_characters(stepper, lookup, chars, tf.constant(["RO"]), tf.constant([5]),
    ...                   tf.constant([0.8]), tf.constant([1], tf.int64))  # doctest: +SKIP
    <tf.Tensor: shape=(1,), dtype=string, numpy=array([b'ROMEO:'], dtype=object)>
    """
    split = tf.strings.unicode_split(prompt, "UTF-8")
    lengths = tf.cast(split.row_lengths(), tf.int32)
    ids = tf.cast(lookup(split.to_tensor("")), tf.int32)
    with tf.control_dependencies(_check_inputs(ids, lengths, max_length, temperature)):
        batch_size = tf.shape(ids)[0]
    vocab_size = tf.shape(characters)[0]

    def read_prompt(t, states, last_logits):
        logits, states = stepper.step(ids[:, t], states, keep=t < lengths)
        last_logits = tf.where((t == lengths - 1)[:, None], logits, last_logits)
        return t + 1, states, last_logits

    zeros = tf.zeros([batch_size, vocab_size], stepper.head.compute_dtype)
    _, states, logits = tf.while_loop(
        lambda t, *_: t < tf.shape(ids)[1], read_prompt, (0, stepper.initial_states(batch_size), zeros)
    )

    # Never emit the unknown-character class (id 0), as `kerasrnn generate` does not.
    never_unknown = tf.one_hot(tf.zeros([batch_size], tf.int32), vocab_size, on_value=-1e9, off_value=0.0)
    steps = tf.reduce_max(tf.concat([max_length, [0]], axis=0))

    def sample(s, states, logits, picked):
        # Gumbel-max sampling with a per-row stateless seed: the same (prompt,
        # seed) gives the same text however requests are batched together.
        uniform = tf.map_fn(
            lambda row_seed: tf.random.stateless_uniform(
                [vocab_size], seed=tf.stack([row_seed, tf.cast(s, tf.int64)]), minval=1e-20, maxval=1.0
            ),
            seed,
            fn_output_signature=tf.float32,
        )
        gumbel = -tf.math.log(-tf.math.log(uniform))
        scaled = tf.where(
            temperature[:, None] > 0,
            tf.cast(logits, tf.float32) / tf.maximum(temperature[:, None], 1e-12) + gumbel,
            tf.cast(logits, tf.float32),
        )
        next_ids = tf.argmax(scaled + never_unknown, axis=-1, output_type=tf.int32)
        logits, states = stepper.step(next_ids, states)
        return s + 1, states, logits, tf.concat([picked, next_ids[:, None]], axis=1)

    picked = tf.zeros([batch_size, 0], tf.int32)
    _, _, _, picked = tf.while_loop(
        lambda s, *_: s < steps,
        sample,
        (0, states, logits, picked),
        shape_invariants=(
            tf.TensorShape([]),
            [tf.TensorShape([None, None])] * len(states),
            tf.TensorShape([None, None]),
            tf.TensorShape([None, None]),
        ),
    )
    generated = tf.gather(characters, picked)
    generated = tf.where(tf.sequence_mask(max_length, steps), generated, "")
    return prompt + tf.strings.reduce_join(generated, axis=1)
