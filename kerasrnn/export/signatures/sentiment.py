"""Sentiment signature: review text in, class probabilities and the label out."""

import tensorflow as tf

from kerasrnn.export.signatures.endpoint import Endpoint
from kerasrnn.workflows.common import inner_model, label_names


def sentiment_endpoints(model):
    """The `serving_default` signature of an end-to-end sentiment model.

    Input `text` (string, `[batch]`): raw reviews; the model's own
    `TextVectorization` layer (vocabulary and standardizer) runs in the graph.
    Outputs `probabilities` (float32, `[batch, num_classes]`) and `label`
    (string, `[batch]`: the most probable class name). The vectorizer pads
    every review to its `output_sequence_length`; the signature cuts that
    padding down to the batch's longest review before the recurrent layers.

    Args:
        model: the model `kerasrnn train sentiment` saves (strings in).

    Returns:
        A list with one `Endpoint`.

    Example:

    >>> [e.name for e in sentiment_endpoints(model)]  # doctest: +SKIP
    ['serving_default']
    """
    labels = tf.constant(label_names(model))
    vectorizer, classifier = model.get_layer("text_vectorization"), inner_model(model)

    @tf.function
    def serving_default(text):
        ids = vectorizer(text)
        # Padding is masked, so the cut changes no result; it spares a short
        # review hundreds of recurrent steps (the padding sits at the end).
        longest = tf.maximum(tf.reduce_max(tf.math.count_nonzero(ids, axis=1, dtype=tf.int32)), 1)
        probabilities = classifier(ids[:, :longest], training=False)
        return {"probabilities": probabilities, "label": tf.gather(labels, tf.argmax(probabilities, axis=-1))}

    return [
        Endpoint(
            "serving_default",
            serving_default,
            [tf.TensorSpec([None], tf.string, name="text")],
            {"text": ["A moving, beautifully acted film. I loved every minute of it."]},
            "text: one raw review per row (HTML line breaks are fine).",
        )
    ]
