"""Exports into one base path at once, and an export killed mid-way (issue 28, points 4 and 11), with real processes."""

import os
import signal
import subprocess
import sys
import time

from kerasrnn.export.versioned_write import write_version

# A stand-in for the SavedModel writer (the folder handling is what is tested): it fills the
# temporary folder, then takes `delay` seconds, as a real export does while it traces.
EXPORT = """
import os, sys, time
from kerasrnn.export.versioned_write import write_version

def write(folder):
    os.makedirs(folder)
    open(os.path.join(folder, "saved_model.pb"), "w").write(sys.argv[2])
    time.sleep(float(sys.argv[3]))

print(write_version(sys.argv[1], write))
"""


def start_export(base, label, delay):
    return subprocess.Popen([sys.executable, "-c", EXPORT, str(base), label, str(delay)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_concurrent_exports_get_distinct_versions_and_lose_nothing(tmp_path):
    exports = [start_export(tmp_path, f"model {number}", 1.0) for number in range(4)]
    results = [export.communicate(timeout=60) for export in exports]
    assert all(export.returncode == 0 for export in exports), results
    versions = sorted(int(stdout) for stdout, _ in results)
    assert versions == [1, 2, 3, 4]
    assert sorted(os.listdir(tmp_path)) == ["1", "2", "3", "4"]  # no lock file, no leftovers
    written = sorted((tmp_path / str(version) / "saved_model.pb").read_text() for version in versions)
    assert written == [f"model {number}" for number in range(4)]


def test_a_killed_exports_temporary_folder_is_removed_by_the_next_export(tmp_path):
    export = start_export(tmp_path, "killed", 120)
    deadline = time.monotonic() + 60
    while not any(name.startswith("temp-") for name in os.listdir(tmp_path)):
        assert time.monotonic() < deadline and export.poll() is None, export.communicate()
        time.sleep(0.05)
    export.send_signal(signal.SIGKILL)
    export.wait(timeout=30)
    assert [name for name in os.listdir(tmp_path) if name.startswith("temp-")]  # what kill -9 leaves
    assert write_version(tmp_path, os.makedirs) == 1
    assert os.listdir(tmp_path) == ["1"]
