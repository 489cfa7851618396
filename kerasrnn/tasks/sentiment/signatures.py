"""Sentiment signature: review text in, class probabilities and the label out."""

import tensorflow as tf

from kerasrnn.export.endpoint import Endpoint


def sentiment_endpoints(model):
    """The `serving_default` signature of a `SentimentClassifier`.

    Input `text` (string, `[batch]`): raw reviews; the model's preprocessor
    (vocabulary and standardizer) runs in the graph and pads the batch only
    to its longest review. Outputs `probabilities` (float32,
    `[batch, num_classes]`) and `label` (string, `[batch]`: the most probable
    class name).

    Args:
        model: a `SentimentClassifier`.

    Returns:
        A list with one `Endpoint`.

    Example:

    >>> [e.name for e in sentiment_endpoints(model)]  # doctest: +SKIP
    ['serving_default']
    """
    labels = tf.constant(model.preprocessor.labels)

    @tf.function
    def serving_default(text):
        probabilities = model(model.preprocessor(text), training=False)
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
