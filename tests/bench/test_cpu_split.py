"""The rush benchmark's CPU split must put a process's work in its own group, not somewhere else."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from bench.common import CpuSnapshot, cpu_split

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_a_server_process_counts_as_app_and_this_process_as_client():
    server = subprocess.Popen([sys.executable, "-c",
                               "import time\nend = time.process_time() + 0.3\n"
                               "while time.process_time() < end: pass\ntime.sleep(30)"])
    try:
        before = CpuSnapshot.take()
        spin(0.3)
        time.sleep(0.5)  # the child finishes its 0.3 s of CPU meanwhile
        split = cpu_split(before, CpuSnapshot.take(), [server.pid])
    finally:
        server.kill()
        server.wait()
    assert split["app"] >= 0.2
    assert split["client"] >= 0.2
    assert 0 < split["busy_share"] <= 1


def test_a_process_not_named_as_server_is_not_counted_as_app():
    before = CpuSnapshot.take()
    spin(0.2)
    split = cpu_split(before, CpuSnapshot.take(), [])
    assert split["app"] == 0
    assert split["client"] >= 0.1
