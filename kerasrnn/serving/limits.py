"""How much work one request may ask for, decided before any model runs.

A recurrent signature pads every row of a batch to the longest one, so the
work (and memory) of a request grows with rows × padded length, not with the
size of its body: one 10,000-character row beside 499 one-character rows costs
as much as 500 long rows. `RequestLimits` refuses such a request up front with
a 400 (gRPC INVALID_ARGUMENT) that names the limit and the flag raising it.

Costs are counted the same way for REST and gRPC, from the input tensors alone
(the serving code knows no model):

* rows: the batch dimension (the first one) of the inputs;
* padded length of an input: its size beyond the batch dimension, and for a
  one-string-per-row input (rank 1) the longest string in characters, an
  upper bound on the tokens any character- or word-level tokenizer makes;
* cells: rows × the largest padded length among the inputs;
* a signature with an integer input named `max_length` (a generator) also
  costs rows × the largest `max_length` asked for, in generated steps.
"""

import numpy as np

from kerasrnn.serving.errors import invalid_argument

DEFAULT_MAX_ROWS = 4096
DEFAULT_MAX_CELLS = 262_144
DEFAULT_MAX_GENERATE_STEPS = 65_536
DEFAULT_DEADLINE_S = 30.0


def _longest_string(values):
    """The length in characters of the longest of `values` (bytes or str)."""
    longest = 0
    for value in values:
        if len(value) > longest:
            # A UTF-8 character is 1-4 bytes: count characters only for the
            # candidates that could win, so the common case stays a len().
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            longest = max(longest, len(text))
    return longest


class RequestLimits:
    """Budgets for one request: rows, rows × padded length, generated steps, and a deadline.

    Args:
        max_rows: the most rows (batch size) one request may send.
        max_cells: the most rows × padded length one request may cost.
        max_generate_steps: for generating signatures (an integer input
            named `max_length`), the most rows × `max_length`.
        deadline_s: how long a request may take before the client gets a
            DEADLINE_EXCEEDED (504) answer.

    Example:

    >>> limits = RequestLimits(max_rows=8, max_cells=100)
    >>> limits.check({"text": np.array([b"ab", b"abcdef"], object)})
    12
    >>> limits.check({"text": np.array([b"x" * 60, b"y"], object)})
    Traceback (most recent call last):
    ...
    kerasrnn.serving.errors.ServingError: Request costs 2 rows x 60 padded length = 120 cells, over the server's limit of 100 cells (--max-request-cells): send fewer or shorter rows, or split the request
    """

    def __init__(
        self,
        max_rows=DEFAULT_MAX_ROWS,
        max_cells=DEFAULT_MAX_CELLS,
        max_generate_steps=DEFAULT_MAX_GENERATE_STEPS,
        deadline_s=DEFAULT_DEADLINE_S,
    ):
        for name, value in (("max_rows", max_rows), ("max_cells", max_cells),
                            ("max_generate_steps", max_generate_steps)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        if not (isinstance(deadline_s, (int, float)) and deadline_s > 0):
            raise ValueError(f"`deadline_s` must be a positive number of seconds. Received: deadline_s={deadline_s!r}")
        self.max_rows, self.max_cells = max_rows, max_cells
        self.max_generate_steps, self.deadline_s = max_generate_steps, float(deadline_s)

    def check_rows(self, rows):
        """Refuse a request of more than `max_rows` rows (cheap: before converting any value).

        Example:

        >>> RequestLimits(max_rows=2).check_rows(3)
        Traceback (most recent call last):
        ...
        kerasrnn.serving.errors.ServingError: Request has 3 rows, over the server's limit of 2 rows (--max-request-rows)
        """
        if rows > self.max_rows:
            raise invalid_argument(
                f"Request has {rows} rows, over the server's limit of {self.max_rows} rows (--max-request-rows)"
            )

    def check_shapes(self, shapes, longest_strings=None, max_lengths=None):
        """Check a request described by its input shapes; returns its cost in cells.

        Args:
            shapes: `{input name: shape}` (lists or tuples of ints).
            longest_strings: `{input name: characters}` for rank-1 string inputs.
            max_lengths: the values of an integer `max_length` input, if any.

        Example:

        >>> RequestLimits().check_shapes({"tokens": (2, 5)})
        10
        """
        longest_strings = longest_strings or {}
        rows, padded = 0, 1
        for name, shape in shapes.items():
            shape = [int(dim) for dim in shape]
            if not shape:
                continue
            rows = max(rows, shape[0])
            if len(shape) == 1 and name in longest_strings:
                length = longest_strings[name]
            else:
                length = int(np.prod(shape[1:], dtype=np.float64)) if len(shape) > 1 else 1
            padded = max(padded, length)
        self.check_rows(rows)
        cells = rows * padded
        if cells > self.max_cells:
            raise invalid_argument(
                f"Request costs {rows} rows x {padded} padded length = {cells} cells, over the server's limit "
                f"of {self.max_cells} cells (--max-request-cells): send fewer or shorter rows, or split the request"
            )
        if max_lengths is not None and len(max_lengths):
            longest = max(int(np.max(max_lengths)), 0)
            steps = max(rows, 1) * longest
            if steps > self.max_generate_steps:
                raise invalid_argument(
                    f"Request asks for {rows} rows x max_length {longest} = {steps} generated steps, over the "
                    f"server's limit of {self.max_generate_steps} (--max-generate-steps)"
                )
        return cells

    def check(self, arrays):
        """Check the NumPy inputs of a request; returns its cost in cells.

        Example:

        >>> RequestLimits().check({"prompt": np.array([b"To be"], object), "max_length": np.array([20])})
        5
        """
        shapes, longest, max_lengths = {}, {}, None
        for name, array in arrays.items():
            shapes[name] = array.shape
            if array.ndim == 1 and (array.dtype == object or array.dtype.kind in "SU"):
                longest[name] = _longest_string(array.tolist())
            if name == "max_length" and array.dtype.kind in "iu":
                max_lengths = array
        return self.check_shapes(shapes, longest, max_lengths)
