"""Tagger signatures: padded tokens (or plain text) in, tag names and scores out."""

import tensorflow as tf

from kerasrnn.export.endpoint import Endpoint
from kerasrnn.tasks.pos_tagger.preprocessor import PADDING


def pos_tagger_endpoints(model):
    """The tagger's `serving_default` (tokens) and `tag_text` (whitespace text) signatures.

    `serving_default`: input `tokens` (string, `[batch, time]`, each row
    padded with "" to the longest one) → `tags` (string, `[batch, time]`,
    "" at padding) and `scores` (float32, `[batch, time, num_tags]`, the tag
    probabilities; the tag order is the model's label names).

    `tag_text`: input `text` (string, `[batch]`, split on whitespace in the
    graph) → `tokens` (the split words, padded with ""), `tags` and `scores`
    as above, so a client need not pad anything.

    Args:
        model: a `PosTagger`.

    Returns:
        A list of two `Endpoint`s.

    Example:

    >>> [e.name for e in pos_tagger_endpoints(model)]  # doctest: +SKIP
    ['serving_default', 'tag_text']
    """
    tag_names = tf.constant(model.preprocessor.tags)

    def tag(tokens):
        scores = model(model.preprocessor(tokens), training=False)
        tags = tf.gather(tag_names, tf.argmax(scores, axis=-1))
        return {"tags": tf.where(tf.equal(tokens, PADDING), PADDING, tags), "scores": scores}

    @tf.function
    def serving_default(tokens):
        return tag(tokens)

    @tf.function
    def tag_text(text):
        # to_tensor pads the ragged split with "", exactly what a client would send.
        tokens = tf.strings.split(text).to_tensor(default_value=PADDING)
        return {"tokens": tokens, **tag(tokens)}

    sentence = "The quick brown fox jumps over the lazy dog ."
    return [
        Endpoint(
            "serving_default",
            serving_default,
            [tf.TensorSpec([None, None], tf.string, name="tokens")],
            {"tokens": [sentence.split(), "I saw her .".split() + [PADDING] * 6]},
            'tokens: [batch, time] words; the REST row format needs rectangular instances, '
            'so pad every row with "" to the longest one (or call the tag_text signature).',
        ),
        Endpoint(
            "tag_text",
            tag_text,
            [tf.TensorSpec([None], tf.string, name="text")],
            {"text": [sentence]},
            "text: one sentence per row, split on whitespace in the graph; no padding needed.",
        ),
    ]
