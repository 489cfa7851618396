"""Each task's reference model, in kerasrnn and in PyTorch, with the real data it trains on.

The throughput, full-epoch and memory benchmarks all measure these, so the
architectures and hyper-parameters live in one place. PyTorch is imported
only when a PyTorch model or loss is asked for, so a process measuring the
kerasrnn model's memory never loads it.
"""

import dataclasses
from typing import Callable

from kerasrnn.tasks import build_char_lm, build_pos_tagger, build_sentiment_classifier

DATA = "../shared/data"


@dataclasses.dataclass
class Reference:
    """One task's reference model in both frameworks.

    Attributes:
        task: `"char_lm"`, `"sentiment"` or `"pos"`.
        data: the task's `PreparedData` (real data, bucketed batches).
        keras_model: `keras_model()` builds and compiles the kerasrnn model.
        torch_model: `torch_model()` builds the same architecture in PyTorch.
        torch_loss: `torch_loss(logits, ids, targets)`, the same loss as the Keras model's.
        learning_rate: Adam's learning rate in both.
        architecture: one line describing the model.
    """

    task: str
    data: object
    keras_model: Callable
    torch_model: Callable
    torch_loss: Callable
    learning_rate: float
    architecture: str


def char_lm_reference(units=512, data_path=f"{DATA}/tinyshakespeare/input.txt"):
    """Tiny Shakespeare, Embedding 64 → LSTM → LSTM → Dense, batches of 64 windows of 100 characters.

    Example:

    >>> reference = char_lm_reference(units=8)
    >>> reference.keras_model().output_shape[-1] == reference.torch_model().head.out_features
    True
    """
    from kerasrnn.tasks.char_lm import data as workflow

    data = workflow.prepare(data_path, batch_size=64, seq_len=100)
    vocab = data.spec_arguments["vocab_size"]
    return Reference(
        task="char_lm",
        data=data,
        keras_model=lambda: build_char_lm(vocab, cell="lstm", units=units, num_layers=2, embedding_dim=64,
                                          learning_rate=2e-3),
        torch_model=lambda: _torch_models().TorchCharLM(vocab, 64, units, 2),
        torch_loss=lambda logits, ids, y: _cross_entropy(logits.reshape(-1, vocab), y.reshape(-1)),
        learning_rate=2e-3,
        architecture=f"Embedding 64 → LSTM {units} → LSTM {units} → Dense {vocab}, batch 64 × 100",
    )


def sentiment_reference(max_examples=None, data_path=f"{DATA}/aclImdb_v1_labeled.tar.gz"):
    """IMDB, Embedding 128 (masked) → BiLSTM 64 → Dense 2, reviews cut at 200 tokens, bucketed batches of 32.

    Example:

    >>> reference = sentiment_reference(max_examples=64)
    >>> reference.task, reference.data.train_examples
    ('sentiment', 64)
    """
    from kerasrnn.tasks.sentiment import data as workflow

    data = workflow.prepare(data_path, batch_size=32, max_length=200, max_examples=max_examples)
    vocab = data.spec_arguments["vocab_size"]
    return Reference(
        task="sentiment",
        data=data,
        keras_model=lambda: build_sentiment_classifier(vocab, cell="lstm", units=64, embedding_dim=128),
        torch_model=lambda: _torch_models().TorchBiLSTMClassifier(vocab, 128, 64, 1, 2),
        torch_loss=lambda logits, ids, y: _cross_entropy(logits, y),
        learning_rate=1e-3,
        architecture=f"Embedding 128 (mask) → BiLSTM 64 → Dense 2, vocab {vocab}, batch 32, bucketed",
    )


def _torch_models():
    from benchmarks import torch_models

    return torch_models


def _cross_entropy(logits, targets):
    import torch

    return torch.nn.functional.cross_entropy(logits, targets)


def _masked_token_loss(logits, ids, targets):
    keep = ids != 0
    return _cross_entropy(logits[keep], targets[keep])


def pos_reference(data_path=f"{DATA}/ud-english-ewt"):
    """UD English EWT, the word-level tagger: Embedding 100 (masked) → BiLSTM 128 → Dense per token.

    Example:

    >>> pos_reference().architecture.startswith("Embedding 100")
    True
    """
    from kerasrnn.tasks.pos_tagger import data as workflow

    data = workflow.prepare(data_path, batch_size=32)
    vocab, tags = data.spec_arguments["vocab_size"], data.spec_arguments["num_tags"]
    return Reference(
        task="pos",
        data=data,
        keras_model=lambda: build_pos_tagger(vocab, tags, cell="lstm", units=128, embedding_dim=100,
                                             learning_rate=2e-3),
        torch_model=lambda: _torch_models().TorchBiLSTMTagger(vocab, 100, 128, tags),
        torch_loss=_masked_token_loss,
        learning_rate=2e-3,
        architecture=f"Embedding 100 (mask) → BiLSTM 128 → Dense {tags}, word level, batch 32, bucketed",
    )


def keras_io_reference():
    """The keras-io "Bidirectional LSTM on IMDB" architecture in PyTorch (2×BiLSTM-64, 20k vocabulary, one logit).

    Its batches come from the keras-io recipe's own pipeline, so `data` and `keras_model` are None.

    Example:

    >>> keras_io_reference().torch_model().rnn.num_layers
    2
    """
    return Reference(
        task="sentiment",
        data=None,
        keras_model=None,
        torch_model=lambda: _torch_models().TorchBiLSTMClassifier(20000, 128, 64, 2, 1, packed=False),
        torch_loss=_binary_cross_entropy_of_first_logit,
        learning_rate=1e-3,
        architecture="Embedding 128 → BiLSTM 64 (seq) → BiLSTM 64 → Dense 1, batch 32 × 200",
    )


def _binary_cross_entropy_of_first_logit(logits, ids, targets):
    import torch

    return torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], targets.float())


def reference_for(task, settings):
    """The reference of `task` at the sizes of a benchmark mode's `settings`.

    Example:

    >>> reference_for("pos", {}).task
    'pos'
    """
    if task == "char_lm":
        return char_lm_reference(units=settings.get("char_units", 512))
    if task == "sentiment":
        return sentiment_reference(max_examples=settings.get("sentiment_examples"))
    if task == "pos":
        return pos_reference()
    raise ValueError(f"`task` must be 'char_lm', 'sentiment' or 'pos'. Received: task={task!r}")
