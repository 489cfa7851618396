"""A task's head on a `RecurrentBackbone`, and the one way a task network is built from options.

Each task folder defines a `TaskHead` subclass (in its `builder.py`): its own
options (checked in `__init__`, cheaply), the backbone options it fixes
(`backbone_options`), its output layers (`outputs`), its compile defaults
(`loss`, `metrics`), and, as plain data, its defaults for the backbone's and
the optimizer's options (`defaults`) and the backbone options only it offers
(`extra_options`) — the one place they are written; the task model class
declares it as `head_class` and compiles with the same defaults. The public
`build_*` functions are one-line conveniences over `build_task_network`;
`check_task_network_options` runs every check they run without building
anything.

A network's options split three ways by name: the head's (its `__init__`
arguments), the optimizer's (`kerasrnn.optimizers.OPTIMIZER_OPTIONS`), and
the backbone's (the rest). `TaskHead.option_defaults()` lists every option a
task takes, with the task's default.
"""

import inspect

import keras

from kerasrnn.optimizers import OPTIMIZER_DEFAULTS, OPTIMIZER_OPTIONS, build_optimizer, check_optimizer_options
from kerasrnn.tasks.recurrent_backbone import BACKBONE_DEFAULTS, TASK_SET_OPTIONS, RecurrentBackbone

# The default of an option that has none: the caller must give it (`vocab_size`, `num_tags`).
REQUIRED = inspect.Parameter.empty

# The options every task takes, with the backbone's and the optimizer's defaults (a task may change
# them: `TaskHead.defaults`). Derived from their signatures, so a new backbone or optimizer option is an
# option of every builder, of `kerasrnn train` (its model flags) and of every spec at once.
SHARED_OPTIONS = {
    **{name: value for name, value in BACKBONE_DEFAULTS.items() if name not in TASK_SET_OPTIONS},
    **OPTIMIZER_DEFAULTS,
}


class TaskHead:
    """What a task puts on a `RecurrentBackbone`; subclasses check their options in `__init__`.

    Attributes:
        network_name: the task network's name before `_<cell>` (`"sentiment"` → `"sentiment_lstm"`).

    Example:

    >>> class RegressionHead(TaskHead):
    ...     network_name = "regression"
    ...     defaults = {"units": 4, "embedding_dim": 4}
    ...     def backbone_options(self):
    ...         return {"return_sequences": False}
    ...     def outputs(self, backbone):
    ...         return keras.layers.Dense(1, name="value")(backbone.output)
    ...     @staticmethod
    ...     def loss():
    ...         return "mse"
    >>> network = build_task_network(RegressionHead, {"vocab_size": 10})
    >>> network.name, network.output_shape
    ('regression_lstm', (None, 1))
    """

    network_name = "task"
    # The backbone options beyond `SHARED_OPTIONS` this task offers (their defaults: the backbone's).
    extra_options = ()
    # This task's defaults where they differ from the backbone's and the optimizer's.
    defaults = {}

    @classmethod
    def option_defaults(cls):
        """Every option of this task's network with the task's default (`REQUIRED` where there is none).

        In order: `vocab_size`, the head's own options, `SHARED_OPTIONS`, `extra_options`.

        Example:

        >>> from kerasrnn.tasks.pos_tagger.builder import PosTaggerHead
        >>> defaults = PosTaggerHead.option_defaults()
        >>> defaults["num_tags"] is REQUIRED, defaults["bidirectional"], defaults["char_units"]
        (True, True, 64)
        """
        head = {name: parameter.default for name, parameter in inspect.signature(cls).parameters.items()
                if parameter.kind is parameter.POSITIONAL_OR_KEYWORD}
        extra = {name: BACKBONE_DEFAULTS[name] for name in cls.extra_options}
        return {"vocab_size": REQUIRED, **head, **SHARED_OPTIONS, **extra, **cls.defaults}

    def backbone_options(self):
        """The backbone options this head fixes (e.g. `return_sequences`), applied over the builder's.

        Returns:
            A dict of `RecurrentBackbone` arguments (none here).

        Example:

        >>> TaskHead().backbone_options()
        {}
        """
        return {}

    def outputs(self, backbone):
        """The head's output tensor on `backbone.output` (its layers are created here)."""
        raise NotImplementedError

    @staticmethod
    def loss():
        """The task's loss (what its task model compiles with unless told otherwise)."""
        raise NotImplementedError

    @staticmethod
    def metrics():
        """The task's metrics (what its task model compiles with unless told otherwise).

        Example:

        >>> TaskHead.metrics()
        []
        """
        return []


def split_network_options(head_class, options):
    """Split a builder's options into the head's, the backbone's and the optimizer's.

    Args:
        head_class: a `TaskHead` subclass.
        options: the builder's arguments by name.

    Returns:
        `(head_options, backbone_options, optimizer_options)`; the optimizer's
        name is under `"name"`, as `build_optimizer` takes it.

    Example:

    >>> from kerasrnn.tasks.pos_tagger.builder import PosTaggerHead
    >>> split_network_options(PosTaggerHead, {"num_tags": 3, "units": 4, "learning_rate": 0.1})
    ({'num_tags': 3}, {'units': 4}, {'learning_rate': 0.1})
    """
    head_names = set(inspect.signature(head_class).parameters)
    head, backbone, optimizer = {}, {}, {}
    for name, value in options.items():
        if name in head_names:
            head[name] = value
        elif name in OPTIMIZER_OPTIONS:
            optimizer["name" if name == "optimizer" else name] = value
        else:
            backbone[name] = value
    return head, backbone, optimizer


def complete_options(head_class, options):
    """`options` over the task's defaults, refusing an option the task does not take or a missing required one.

    Args:
        head_class: a `TaskHead` subclass.
        options: some of the network's options by name.

    Returns:
        Every option of the task (`head_class.option_defaults()`), `options`' values over the defaults.

    Raises:
        ValueError: naming the unknown options (and listing the accepted ones) or the missing ones.

    Example:

    >>> from kerasrnn.tasks.char_lm.builder import CharLanguageModelHead
    >>> complete_options(CharLanguageModelHead, {"vocab_size": 30, "units": 8})["num_layers"]
    2
    >>> complete_options(CharLanguageModelHead, {"vocab_size": 30, "unit": 8})
    Traceback (most recent call last):
    ...
    ValueError: Unknown argument(s) unit for a char_lm network. Accepted: vocab_size, bidirectional, embedding_dim, cell, units, num_layers, dropout, recurrent_dropout, kernel_initializer, recurrent_initializer, optimizer, learning_rate, clipnorm, clipvalue, global_clipnorm, stateful, batch_size
    """
    defaults = head_class.option_defaults()
    unknown = [name for name in options if name not in defaults]
    if unknown:
        raise ValueError(
            f"Unknown argument(s) {', '.join(unknown)} for a {head_class.network_name} network. "
            f"Accepted: {', '.join(defaults)}"
        )
    completed = {**defaults, **options}
    missing = [name for name, value in completed.items() if value is REQUIRED]
    if missing:
        raise ValueError(f"A {head_class.network_name} network is missing {', '.join(missing)}.")
    return completed


def check_task_network_options(head_class, options):
    """Run every check `build_task_network` runs on `options`, building nothing.

    Args:
        head_class: a `TaskHead` subclass.
        options: the network's options by name; the others take the task's defaults.

    Returns:
        `(head, backbone_options, optimizer_options)`: the head object, the
        backbone's arguments (the head's own applied over them) and
        `build_optimizer`'s.

    Raises:
        ValueError: naming the option that is wrong.

    Example:

    >>> from kerasrnn.tasks.sentiment.builder import SentimentHead
    >>> head, backbone_options, _ = check_task_network_options(SentimentHead, {"vocab_size": 10, "pooling": "last"})
    >>> backbone_options["units"], backbone_options["return_sequences"]
    (64, False)
    >>> check_task_network_options(SentimentHead, {"vocab_size": 10, "units": 0})
    Traceback (most recent call last):
    ...
    ValueError: `units` must be a positive integer. Received: units=0
    """
    head_options, backbone_options, optimizer_options = split_network_options(
        head_class, complete_options(head_class, options)
    )
    head = head_class(**head_options)
    RecurrentBackbone.check_options(**{**backbone_options, **head.backbone_options()})
    check_optimizer_options(**optimizer_options)
    return head, {**backbone_options, **head.backbone_options()}, optimizer_options


def build_task_network(head_class, options, compile=True):
    """A task network: a `RecurrentBackbone` and `head_class`'s layers as one flat functional model.

    The options are checked first, all of them (`check_task_network_options`).
    The network is `keras.Model(backbone.input, head.outputs(backbone))`: the
    backbone's layers, not the backbone as one nested layer (see
    `kerasrnn.tasks.recurrent_backbone`).

    Args:
        head_class: a `TaskHead` subclass.
        options: the network's options by name (the head's, the backbone's and the optimizer's);
            the others take the task's defaults (`head_class.option_defaults()`).
        compile: compile with the head's loss and metrics and the optimizer the options name.

    Returns:
        A `keras.Model` named `<head_class.network_name>_<cell>`.

    Example:

    >>> from kerasrnn.tasks.pos_tagger.builder import PosTaggerHead
    >>> network = build_task_network(PosTaggerHead, {"vocab_size": 10, "num_tags": 3, "units": 4})
    >>> network.name, network.output_shape, network.get_layer("embedding").input_dim
    ('pos_tagger_lstm', (None, None, 3), 10)
    """
    head, backbone_options, optimizer_options = check_task_network_options(head_class, options)
    backbone = RecurrentBackbone(**backbone_options)
    network = keras.Model(backbone.input, head.outputs(backbone), name=f"{head.network_name}_{backbone.cell}")
    if compile:
        network.compile(optimizer=build_optimizer(**optimizer_options), loss=head.loss(), metrics=head.metrics())
    return network
