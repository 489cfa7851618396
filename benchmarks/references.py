"""Each task's reference model, in kerasrnn and in PyTorch, with the real data it trains on.

A reference is what users run (issue #15): the defaults of `kerasrnn train
TASK` (the builder's defaults, the task's `prepare` defaults and the task's
default batch size) or a published zoo recipe, read from the code and from
the model's preset (its `training_recipe` in the task's presets.json) rather than retyped here, so a headline figure cannot
drift away from what users get. The kerasrnn model is built the way
`kerasrnn.training.train` builds it: `build_from_spec` on the task, the
recipe's builder options and the data's spec arguments.

The throughput, full-epoch and memory benchmarks all measure these. PyTorch
is imported only when a PyTorch model or loss is asked for, so a process
measuring the kerasrnn model's memory never loads it.
"""

import dataclasses
import inspect
from typing import Callable, Optional

from kerasrnn.tasks.model_spec import build_from_spec
from kerasrnn.tasks.registry import get_task
from kerasrnn.zoo.index import find_entry

from benchmarks.peak import rnn_flops_per_token

DATA = "../shared/data"
CHAR_LM_RECIPE = "charlm-shakespeare-lstm"


@dataclasses.dataclass
class Reference:
    """One task's reference model in both frameworks.

    Attributes:
        task: `"char_lm"`, `"sentiment"` or `"pos"`.
        data: the task's `PreparedData` (real data, bucketed batches).
        keras_model: `keras_model()` builds and compiles the kerasrnn model
            (the sentiment reference's also takes builder options, for variants).
        torch_model: `torch_model()` builds the same architecture in PyTorch (`torch_model(cell="gru")`
            with another cell, for the char LM, sentiment and tagger references).
        torch_loss: `torch_loss(logits, ids, targets)`, the same loss as the Keras model's.
        learning_rate: Adam's learning rate in both.
        architecture: one line saying what the model is and where its settings come from.
        forward_flops_per_token: forward matmul FLOPs per token (recurrent layers and per-token head).
        global_clipnorm: clip all gradients together to this norm in both (None: no clipping).
        forward_flops_of_cell: `forward_flops_of_cell(cell)`, the forward FLOPs per token with another
            cell (`"gru"`, `"simple_rnn"`); None where the reference has one cell only.

    Example:

    >>> reference = pos_reference()
    >>> reference.learning_rate, reference.global_clipnorm
    (0.001, None)
    """

    task: str
    data: object
    keras_model: Callable
    torch_model: Callable
    torch_loss: Callable
    learning_rate: float
    architecture: str
    forward_flops_per_token: float = 0.0
    global_clipnorm: Optional[float] = None
    forward_flops_of_cell: Optional[Callable] = None


def builder_defaults(builder):
    """The default value of every argument of a function (for a task's network: `task_defaults`).

    Args:
        builder: a function such as `kerasrnn.tasks.sentiment.data.prepare`.

    Example:

    >>> from kerasrnn.tasks.sentiment.data import prepare
    >>> builder_defaults(prepare)["max_length"]
    400
    """
    return {name: parameter.default for name, parameter in inspect.signature(builder).parameters.items()
            if parameter.default is not inspect.Parameter.empty}


def task_defaults(task):
    """The default of every option of a task's network (the task's head declares them), required ones left out.

    Args:
        task: a `TaskDescription`.

    Example:

    >>> task_defaults(get_task("sentiment"))["units"]
    64
    """
    from kerasrnn.tasks.task_head import REQUIRED

    return {name: value for name, value in task.head_class().option_defaults().items()
            if value is not REQUIRED}


def _expect(what, options, **expected):
    """Fail loudly if a default changed in a way the PyTorch twin does not reproduce."""
    different = {key: (options.get(key), value) for key, value in expected.items() if options.get(key) != value}
    if different:
        raise ValueError(f"{what}: the PyTorch reference assumes {expected}; the code now has "
                         f"{ {key: got for key, (got, _) in different.items()} }. Update benchmarks/torch_models.py.")


def char_lm_reference(units=None, data_path=None, recipe_name=CHAR_LM_RECIPE):
    """The zoo recipe `charlm-shakespeare-lstm` (its preset's `training_recipe`) on Tiny Shakespeare, in both frameworks.

    Args:
        units: override the recipe's units (the tiny mode's small model); None keeps the recipe's.
        data_path: the text file (default: the recipe's `data` under ../shared/data).
        recipe_name: the zoo recipe to read.

    Example:

    >>> reference = char_lm_reference(units=8)
    >>> reference.keras_model().output_shape[-1] == reference.torch_model().head.out_features
    True
    >>> reference.global_clipnorm
    5.0
    """
    from kerasrnn.tasks.char_lm import data as workflow

    plan = find_entry(recipe_name)["training_recipe"]
    options = dict(plan.get("builder_options", {}))
    if units:
        options["units"] = units
    settings = {**task_defaults(get_task(plan["task"])), **options}
    _expect(recipe_name, settings, cell="lstm", bidirectional=False, recurrent_dropout=0.0, optimizer="adam",
            clipnorm=None, clipvalue=None)
    batch_size = plan.get("batch_size", get_task(plan["task"]).batch_size)
    data_options = plan.get("data_options", {})
    data = workflow.prepare(data_path or f"{DATA}/{plan['data']}", batch_size=batch_size, **data_options)
    # As `kerasrnn.training.train` builds it (a stateful spec carries the batch size).
    spec = {"task": plan["task"], **options, **data.spec_arguments}
    vocab = data.spec_arguments["vocab_size"]
    width, layers, embedding = settings["units"], settings["num_layers"], settings["embedding_dim"]
    dropout, stateful = settings["dropout"], bool(data_options.get("stateful"))

    def flops_of(cell):
        return (rnn_flops_per_token(cell, embedding, width) + (layers - 1) * rnn_flops_per_token(cell, width, width)
                + 2 * width * vocab)

    window = data_options.get("seq_len", builder_defaults(workflow.prepare)["seq_len"])
    return Reference(
        task="char_lm",
        data=data,
        keras_model=lambda **options: build_from_spec({**spec, **options}),
        torch_model=lambda cell="lstm": _torch_models().TorchCharLM(vocab, embedding, width, layers, dropout=dropout,
                                                                    stateful=stateful, cell=cell),
        torch_loss=lambda logits, ids, y: _cross_entropy(logits.reshape(-1, vocab), y.reshape(-1)),
        learning_rate=settings["learning_rate"],
        architecture=(f"zoo recipe {recipe_name}: Embedding {embedding} → {layers}× LSTM {width} → Dense {vocab}, "
                      f"dropout {dropout}, Adam {settings['learning_rate']:g}, global clip norm "
                      f"{settings['global_clipnorm']:g}, {'stateful ' if stateful else ''}batches of "
                      f"{batch_size} × {window}"),
        forward_flops_per_token=flops_of("lstm"),
        global_clipnorm=settings["global_clipnorm"],
        forward_flops_of_cell=flops_of,
    )


def sentiment_reference(max_examples=None, data_path=f"{DATA}/aclImdb_v1_labeled.tar.gz"):
    """Exactly `kerasrnn train sentiment` with its defaults, on IMDB, in both frameworks.

    The data is `prepare(data_path, batch_size=<the task's default>)` with
    prepare's own defaults (vocabulary, review length, bucketing); the model
    is `build_sentiment_classifier(vocab)` with no options.

    Args:
        max_examples: train on a subset (the tiny and quick modes); None: all 22,500 training reviews.
        data_path: the aclImdb folder or tarball.

    Example:

    >>> reference = sentiment_reference(max_examples=64)
    >>> reference.task, reference.data.train_examples, reference.learning_rate
    ('sentiment', 64, 0.002)
    """
    from kerasrnn.tasks.sentiment import data as workflow

    task = get_task("sentiment")
    defaults = task_defaults(task)
    _expect("build_sentiment_classifier defaults", defaults, cell="lstm", bidirectional=True, num_layers=1,
            pooling="max", dropout=0.0, recurrent_dropout=0.0, optimizer="adam", clipnorm=None, clipvalue=None,
            global_clipnorm=None)
    data = workflow.prepare(data_path, batch_size=task.batch_size, max_examples=max_examples)
    max_length = builder_defaults(workflow.prepare)["max_length"]
    spec = {"task": task.name, **data.spec_arguments}
    vocab, classes = data.spec_arguments["vocab_size"], data.spec_arguments["num_classes"]
    units, embedding = defaults["units"], defaults["embedding_dim"]
    return Reference(
        task="sentiment",
        data=data,
        keras_model=lambda **options: build_from_spec({**spec, **options}),
        torch_model=lambda cell="lstm": _torch_models().TorchBidirectionalMaxPoolClassifier(vocab, embedding, units,
                                                                                           classes, cell=cell),
        torch_loss=lambda logits, ids, y: _cross_entropy(logits, y),
        learning_rate=defaults["learning_rate"],
        architecture=(f"kerasrnn train sentiment defaults: Embedding {embedding} (mask) → BiLSTM {units} (fused op) → "
                      f"masked max pooling → Dense {classes}, Adam {defaults['learning_rate']:g}, vocabulary {vocab}, "
                      f"first {max_length} tokens, bucketed batches of {task.batch_size}"),
        forward_flops_per_token=rnn_flops_per_token("lstm", embedding, units, 2),
        forward_flops_of_cell=lambda cell: rnn_flops_per_token(cell, embedding, units, 2),
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
    """Exactly `kerasrnn train pos_tagger` with its defaults (the word-level BiLSTM tagger), in both frameworks.

    Args:
        data_path: the UD English EWT folder.

    Example:

    >>> pos_reference().architecture.startswith("kerasrnn train pos_tagger defaults: Embedding 128")
    True
    """
    from kerasrnn.tasks.pos_tagger import data as workflow

    task = get_task("pos_tagger")
    defaults = task_defaults(task)
    _expect("build_pos_tagger defaults", defaults, cell="lstm", bidirectional=True, num_layers=1, dropout=0.0,
            recurrent_dropout=0.0, optimizer="adam", clipnorm=None, clipvalue=None, global_clipnorm=None,
            char_vocab_size=None, word_dropout=0.0)
    data = workflow.prepare(data_path, batch_size=task.batch_size)
    spec = {"task": task.name, **data.spec_arguments}
    vocab, tags = data.spec_arguments["vocab_size"], data.spec_arguments["num_tags"]
    units, embedding = defaults["units"], defaults["embedding_dim"]
    return Reference(
        task="pos",
        data=data,
        keras_model=lambda **options: build_from_spec({**spec, **options}),
        torch_model=lambda cell="lstm": _torch_models().TorchBiLSTMTagger(vocab, embedding, units, tags, cell=cell),
        torch_loss=_masked_token_loss,
        learning_rate=defaults["learning_rate"],
        architecture=(f"kerasrnn train pos_tagger defaults: Embedding {embedding} (mask) → BiLSTM {units} → "
                      f"Dense {tags}, Adam {defaults['learning_rate']:g}, word level, bucketed batches of "
                      f"{task.batch_size}"),
        forward_flops_per_token=rnn_flops_per_token("lstm", embedding, units, 2) + 2 * 2 * units * tags,
        forward_flops_of_cell=lambda cell: rnn_flops_per_token(cell, embedding, units, 2) + 2 * 2 * units * tags,
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
        architecture="keras-io recipe: Embedding 128 → BiLSTM 64 (seq) → BiLSTM 64 → Dense 1, batch 32 × 200",
        forward_flops_per_token=rnn_flops_per_token("lstm", 128, 64, 2) + rnn_flops_per_token("lstm", 128, 64, 2),
    )


def _binary_cross_entropy_of_first_logit(logits, ids, targets):
    import torch

    return torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], targets.float())


def reference_for(task, settings):
    """The reference of `task` at the sizes of a benchmark mode's `settings`.

    Args:
        task: `"char_lm"`, `"sentiment"` or `"pos"`.
        settings: a benchmark mode's settings (`char_units` for a smaller char LM, `sentiment_examples`).

    Example:

    >>> reference_for("pos", {}).task
    'pos'
    """
    if task == "char_lm":
        return char_lm_reference(units=settings.get("char_units"))
    if task == "sentiment":
        return sentiment_reference(max_examples=settings.get("sentiment_examples"))
    if task == "pos":
        return pos_reference()
    raise ValueError(f"`task` must be 'char_lm', 'sentiment' or 'pos'. Received: task={task!r}")
