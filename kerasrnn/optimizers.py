"""The optimizer by name, with Keras' gradient clipping options."""

import inspect

import keras

from kerasrnn.validation import check_choice, check_optional_positive_number

OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "rmsprop": keras.optimizers.RMSprop,
    "sgd": keras.optimizers.SGD,
    "nadam": keras.optimizers.Nadam,
    "adagrad": keras.optimizers.Adagrad,
}


def check_optimizer_options(name="adam", learning_rate=1e-3, clipnorm=None, clipvalue=None, global_clipnorm=None):
    """Refuse a bad optimizer option in one line, without creating the optimizer.

    Args:
        name: one of `adam`, `adamw`, `rmsprop`, `sgd`, `nadam`, `adagrad`.
        learning_rate: a positive float.
        clipnorm: clip each gradient tensor to this L2 norm.
        clipvalue: clip each gradient component to [-clipvalue, clipvalue].
        global_clipnorm: clip all gradients together to this global L2 norm.

    Only one of `clipnorm`, `clipvalue` and `global_clipnorm` may be set, as
    Keras requires.

    Returns:
        The keyword arguments of the optimizer class: `learning_rate` and
        the three clipping options.

    Example:

    >>> check_optimizer_options("sgd", 0.1, clipvalue=0.5)["clipvalue"]
    0.5
    >>> check_optimizer_options("sgd", 0.1, clipnorm=1.0, clipvalue=0.5)
    Traceback (most recent call last):
    ...
    ValueError: Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: clipnorm=1.0, clipvalue=0.5
    """
    check_choice("optimizer", name, tuple(OPTIMIZERS))
    learning_rate = check_optional_positive_number("learning_rate", learning_rate)
    if learning_rate is None:
        raise ValueError("`learning_rate` must be a positive number. Received: learning_rate=None")
    clipping = {
        "clipnorm": check_optional_positive_number("clipnorm", clipnorm),
        "clipvalue": check_optional_positive_number("clipvalue", clipvalue),
        "global_clipnorm": check_optional_positive_number("global_clipnorm", global_clipnorm),
    }
    chosen = [key for key, value in clipping.items() if value is not None]
    if len(chosen) > 1:
        raise ValueError(
            "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
            f"Received: {', '.join(f'{key}={clipping[key]}' for key in chosen)}"
        )
    return {"learning_rate": learning_rate, **clipping}


# The options with their defaults, as a builder takes them (the optimizer's name as `optimizer`):
# `check_optimizer_options`' signature is their one definition.
OPTIMIZER_DEFAULTS = {
    "optimizer" if name == "name" else name: parameter.default
    for name, parameter in inspect.signature(check_optimizer_options).parameters.items()
}
OPTIMIZER_OPTIONS = tuple(OPTIMIZER_DEFAULTS)


def build_optimizer(name="adam", **options):
    """Create a Keras optimizer by name, with at most one clipping option.

    Args:
        name: one of `adam`, `adamw`, `rmsprop`, `sgd`, `nadam`, `adagrad`.
        **options: `learning_rate` (default 1e-3) and one of `clipnorm`,
            `clipvalue` and `global_clipnorm`, checked as
            `check_optimizer_options` checks them.

    Example:

    >>> optimizer = build_optimizer("adam", learning_rate=3e-3, clipnorm=1.0)
    >>> float(optimizer.clipnorm)
    1.0
    """
    arguments = check_optimizer_options(name, **options)
    return OPTIMIZERS[name](**arguments)
