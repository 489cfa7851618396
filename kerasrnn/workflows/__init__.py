"""Per-task glue between the data, the builders and the saved text models.

Each workflow module has the same functions: `prepare` (data → batches and
the data-dependent builder arguments), `text_model` (integer-id model →
model over strings with its vocabulary inside), `evaluate` and either
`predict` or `generate`.
"""

from kerasrnn.workflows import char_lm, pos_tagger, sentiment

WORKFLOWS = {module.TASK: module for module in (char_lm, sentiment, pos_tagger)}

__all__ = ["WORKFLOWS"]
