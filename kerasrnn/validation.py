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


def _check_number(name, value, accepts, accepted):
    # A bool is an Integral to Python but never a number the user meant.
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not accepts(value):
        raise ValueError(f"`{name}` must be {accepted}. Received: {name}={value!r}")
    return float(value)


def check_rate(name, value):
    """Return `value` if it is a number in [0, 1), else raise `ValueError`.

    Example:

    >>> check_rate("dropout", 0.25)
    0.25
    """
    return _check_number(name, value, lambda number: 0 <= number < 1, "a number in [0, 1)")


def check_open_unit_interval(name, value):
    """Return `value` if it is a number in (0, 1), else raise `ValueError`.

    Example:

    >>> check_open_unit_interval("learning_rate_factor", 0.5)
    0.5
    """
    return _check_number(name, value, lambda number: 0 < number < 1, "a number in (0, 1)")


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
    return _check_number(name, value, lambda number: number > 0, "a positive number or None")
