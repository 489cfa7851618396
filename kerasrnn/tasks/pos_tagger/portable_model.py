"""The tagger's text methods over a portable (ONNX / LiteRT) export.

No TensorFlow: `kerasrnn.portable.load` finds this class through the task registry.
"""

import numpy as np

from kerasrnn.portable import text as preprocessing
from kerasrnn.portable.models import PortableModel, load  # noqa: F401 (the examples use load)


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


# What `TaskDescription.portable_model()` returns.
PORTABLE_MODEL = PortablePosTagger
