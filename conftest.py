"""The test suite's set-up, for every test folder (`tests`, `kerasrnn`, `tools`): the real data sets in
../shared/data, the `slow` marker, and one random seed per test."""

import os
import random
import sys
import zlib

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from kerasrnn.shared_data import EWT_DIR, IMDB_TARBALL, SHAKESPEARE, SHARED_DATA  # noqa: F401  (tests import them from here)


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # Each test (and the module fixtures its file's first test sets up) draws
    # from a seed of its own, derived from its id: what it computes no longer
    # depends on which tests ran before it in the same process, which changes
    # with how pytest-xdist spreads the files over workers. Eager TensorFlow
    # ops with only an op-level seed (sampled softmax) and Keras initializers
    # without a seed would otherwise draw differently from run to run.
    seed = zlib.crc32(item.nodeid.encode("utf-8")) % (2**31)
    random.seed(seed)
    np.random.seed(seed)
    if "keras" in sys.modules:
        sys.modules["keras"].utils.set_random_seed(seed)


def pytest_sessionstart(session):
    # The tests use the real data sets; a missing folder is a set-up error,
    # not a reason to skip them silently.
    for path in (IMDB_TARBALL, EWT_DIR, SHAKESPEARE):
        if not os.path.exists(path):
            raise pytest.UsageError(
                f"Real data not found at {path}. Put the shared data beside the repository "
                "(../shared/data) or set KERASRNN_SHARED_DATA."
            )


def pytest_terminal_summary(terminalreporter):
    # The suite's time budget (~10 minutes) is spent file by file: the
    # slowest files, setup and teardown included, show where to trim.
    seconds = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if hasattr(report, "duration") and hasattr(report, "nodeid"):
                test_file = report.nodeid.split("::")[0]
                seconds[test_file] = seconds.get(test_file, 0.0) + report.duration
    if not seconds:
        return
    slowest = sorted(seconds.items(), key=lambda item: -item[1])[:15]
    terminalreporter.section(f"slowest files ({sum(seconds.values()):.0f} s in all)")
    for test_file, total in slowest:
        terminalreporter.write_line(f"{total:8.1f}s  {test_file}")
