"""One builder per task; each returns a compiled `keras.Model` over integer ids."""

from kerasrnn.tasks.char_lm import build_char_lm
from kerasrnn.tasks.pos_tagger import build_pos_tagger
from kerasrnn.tasks.sentiment import build_sentiment_classifier

TASK_BUILDERS = {
    "char_lm": build_char_lm,
    "sentiment": build_sentiment_classifier,
    "pos_tagger": build_pos_tagger,
}

__all__ = ["TASK_BUILDERS", "build_char_lm", "build_pos_tagger", "build_sentiment_classifier"]
