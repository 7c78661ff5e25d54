"""Where a job run's CPU went (bench/jobs.py, bench/cpu.py): the arithmetic, and the process-tree
reading on real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from bench import cpu
from bench.jobs import CpuReading, cpu_per_job


def _reading(at: float, postgres: float | None, machine: float, scale: float) -> CpuReading:
    return CpuReading(
        at=at,
        worker=2.0 * scale,
        postgres=postgres,
        redis=None,
        smtp_sink=0.1 * scale,
        harness=0.4 * scale,
        machine=machine,
    )


def test_cpu_per_job_splits_the_machine_time_and_leaves_the_rest_as_other() -> None:
    before = _reading(at=10.0, postgres=5.0, machine=100.0, scale=1.0)
    after = _reading(at=12.0, postgres=6.0, machine=104.0, scale=2.0)

    spent = cpu_per_job(before, after, jobs=1000)

    assert spent.worker == pytest.approx(2.0)  # 2 s of CPU over 1,000 jobs
    assert spent.postgres == pytest.approx(1.0)
    assert spent.redis is None  # configured, not started by the harness: counted in other
    assert spent.smtp_sink == pytest.approx(0.1)
    assert spent.harness == pytest.approx(0.4)
    assert spent.other == pytest.approx(0.5)  # 4 s busy, 3.5 s of it named
    assert spent.total == pytest.approx(4.0)  # every busy millisecond, once
    assert spent.cores == pytest.approx(2.0)  # 4 s of CPU in 2 s of wall time


def test_other_is_never_negative() -> None:
    """Per-process clocks tick apart from the machine's: named time may exceed the busy time."""
    before = _reading(at=0.0, postgres=0.0, machine=0.0, scale=1.0)
    after = _reading(at=1.0, postgres=0.0, machine=1.0, scale=2.0)

    assert cpu_per_job(before, after, jobs=10).other == 0.0


_BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
# The parent forks a child that burns 0.3 s of CPU and exits (reaped: its time moves to the
# parent's cutime), then a child that burns 0.3 s, says so and stays alive.
_TREE = textwrap.dedent(
    """
    import os, time
    def burn():
    {burn}
    if os.fork() == 0:
        burn(); os._exit(0)
    os.wait()
    if os.fork() == 0:
        burn(); print("ready", flush=True); time.sleep(60); os._exit(0)
    time.sleep(60)
    """
).format(burn=textwrap.indent(_BURN, "    "))


def test_tree_seconds_counts_live_and_reaped_descendants() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _TREE], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline() == "ready\n"

        # Both burns (0.6 s) and the interpreter's start-up; either burn missing gives < 0.4 s.
        assert 0.55 < cpu.tree_seconds(parent.pid) < 0.9
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()
