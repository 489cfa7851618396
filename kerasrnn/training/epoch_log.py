"""`EpochLog`: every epoch's metrics in one CSV file, kept whole across resumes."""

import csv
import io
import os
import time

import keras

from kerasrnn.atomic_files import write_text


class EpochLog(keras.callbacks.Callback):
    """Append each finished epoch's logs to a CSV file, widening its columns when new metrics appear.

    Keras' `CSVLogger(append=True)` writes its header once, from the first
    run's metrics, and then writes every row in the current run's column
    order: a resumed run that logs one more value (a `learning_rate` from
    `ReduceLROnPlateau`, a new metric) shifts its values under the wrong
    columns. This callback reads the file's header first; when the epoch
    brings a column the file lacks, it rewrites the file with the union of
    the columns (earlier rows leave the new ones empty), so every value stays
    under its own name.

    Each row also holds `epoch_seconds`, the epoch's wall time (its
    validation pass included): a run interrupted and resumed across sessions
    keeps the time of every finished epoch, where a process's own clock dies
    with it.

    An epoch that runs again (the run was stopped after its row was written
    but before its checkpoint) replaces its row and any later one, so each
    epoch appears once.

    The file is rewritten whole at every epoch, to a temporary file renamed
    over it (`atomic_files.write_text`): a kill or a full disk during the
    write leaves the previous epochs' file intact, never a half row.

    Args:
        path: the CSV file; created with its folder if missing.

    Example:

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "epochs.csv")
    >>> log = EpochLog(path)
    >>> log.on_epoch_end(0, {"loss": 0.9})
    >>> log.on_epoch_end(1, {"loss": 0.7, "learning_rate": 0.001})
    >>> print(open(path).read().strip())
    epoch,loss,learning_rate
    0,0.9,
    1,0.7,0.001
    >>> log.on_epoch_end(1, {"loss": 0.6, "learning_rate": 0.001})  # epoch 1 ran again after a resume
    >>> print(open(path).read().strip())
    epoch,loss,learning_rate
    0,0.9,
    1,0.6,0.001
    """

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch, **{key: _plain(value) for key, value in (logs or {}).items()}}
        started = getattr(self, "_epoch_started", None)
        if started is not None:
            row["epoch_seconds"] = round(time.perf_counter() - started, 1)
        header, rows = self._read()
        earlier = [old for old in rows if not _epoch_number(old.get("epoch")) >= epoch]
        header = header + [key for key in row if key not in header]
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        # Never appended in place: a write cut short would leave half a row for every later read.
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, header, restval="")
        writer.writeheader()
        writer.writerows(earlier + [row])
        write_text(self.path, text.getvalue())

    def _read(self):
        if not os.path.exists(self.path):
            return [], []
        with open(self.path, newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            rows = list(reader)
            header = list(reader.fieldnames or [])
        for number, row in enumerate(rows, start=2):
            if None in row:
                raise ValueError(
                    f"{self.path}: line {number} has more values than the header's {len(header)} columns; "
                    "the file is not one this callback wrote (move it away to start a new one)."
                )
        return header, rows


def read_history(path):
    """The metrics of every epoch in an `EpochLog` file, as Keras' `History.history` holds them.

    Columns other than metrics (`epoch`, `epoch_seconds`) are left out, and so
    are empty cells (a metric an earlier epoch did not log). A missing file is `{}`.

    Example:

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "epochs.csv")
    >>> log = EpochLog(path)
    >>> log.on_epoch_end(0, {"loss": 0.9})
    >>> log.on_epoch_end(1, {"loss": 0.7})
    >>> read_history(path)
    {'loss': [0.9, 0.7]}
    """
    if not os.path.exists(path):
        return {}
    header, rows = EpochLog(path)._read()
    history = {}
    for name in header:
        if name in ("epoch", "epoch_seconds"):
            continue
        values = [_plain(row[name]) for row in rows if row.get(name) not in (None, "")]
        if values:
            history[name] = values
    return history


def _epoch_number(text):
    # The epoch column as a number; a row without one is never replaced.
    try:
        return int(text)
    except (TypeError, ValueError):
        return -1


def _plain(value):
    # Logs hold numpy or backend scalars; the CSV holds their Python value.
    try:
        return float(value)
    except (TypeError, ValueError):
        return value
