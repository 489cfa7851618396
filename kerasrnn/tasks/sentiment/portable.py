"""The sentiment classifier in an ONNX or LiteRT export: review ids in, class probabilities out."""

from kerasrnn.tasks.portable_interface import PortableInterface


class SentimentPortableInterface(PortableInterface):
    """Right-padded word ids in, `probabilities` out; the review standardizer and vocabulary as JSON.

    Example:

    >>> SentimentPortableInterface().output_name
    'probabilities'
    """

    output_name = "probabilities"

    def preprocessing(self, model):
        """The review preprocessing as plain JSON (see `PortableInterface.preprocessing`)."""
        preprocessor = model.preprocessor
        return {
            "task": "sentiment",
            # kerasrnn.layers.standardize_review: ASCII lowercase, <br /> to a space, punctuation split
            # off; then TextVectorization's split on ASCII whitespace, ids 0 = padding, 1 = unknown.
            "standardize": "kerasrnn.standardize_review",
            "split": "ascii_whitespace",
            "max_length": preprocessor.max_length,
            "labels": list(preprocessor.labels),
            "vocabulary": list(preprocessor.vocabulary),
        }


# What `TaskDescription.portable()` returns for this task.
INTERFACE = SentimentPortableInterface()
