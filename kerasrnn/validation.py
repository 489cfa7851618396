"""Argument checks shared by the builders, loaders and CLI.

Each check raises a `ValueError` that names the argument, what it received
and what it accepts, so a user mistake is reported where it was made.
"""

import numbers


def check_positive_int(name, value):
    """Return `value` if it is an integer > 0, else raise `ValueError`.

    Example:

    >>> check_positive_int("units", 64)
    64
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def check_rate(name, value):
    """Return `value` if it is a number in [0, 1), else raise `ValueError`.

    Example:

    >>> check_rate("dropout", 0.25)
    0.25
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"`{name}` must be a number in [0, 1). Received: {name}={value!r}")
    return float(value)


def check_open_unit_interval(name, value):
    """Return `value` if it is a number in (0, 1), else raise `ValueError`.

    Example:

    >>> check_open_unit_interval("learning_rate_factor", 0.5)
    0.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"`{name}` must be a number in (0, 1). Received: {name}={value!r}")
    return float(value)


def check_choice(name, value, choices):
    """Return `value` if it is one of `choices`, else raise `ValueError`.

    Example:

    >>> check_choice("cell", "lstm", ("simple_rnn", "lstm", "gru"))
    'lstm'
    """
    if value not in choices:
        valid = ", ".join(repr(choice) for choice in choices)
        raise ValueError(f"`{name}` must be one of {valid}. Received: {name}={value!r}")
    return value


def check_optional_positive_number(name, value):
    """Return `value` if it is None or a number > 0, else raise `ValueError`.

    Example:

    >>> check_optional_positive_number("clipnorm", 1.0)
    1.0
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"`{name}` must be a positive number or None. Received: {name}={value!r}")
    return float(value)
