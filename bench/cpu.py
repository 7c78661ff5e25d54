"""Where the CPU went during a run: the server process, PostgreSQL (postmaster, live backends and
the backends it reaped), wrk, and the whole machine (other work on it included), in cores.

On this kind of box the answer to "why is it slow" is usually "which process is at 100% of a
core"; these numbers say it without a profiler's overhead.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields after "pid (comm) "


def _process_seconds(pid: int, *, with_reaped_children: bool = False) -> float:
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    ticks = utime + stime + (cutime + cstime if with_reaped_children else 0)
    return ticks / _TICK


def children_by_parent() -> dict[int, list[int]]:
    """Every live process's children, from one pass over /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def tree_seconds(root: int, children: dict[int, list[int]] | None = None) -> float:
    """CPU seconds of `root` and every process under it, live or exited: an exited child's time
    moves to its parent's cutime when the parent reaps it, so a PostgreSQL backend or a Celery
    pool process that exits mid-run still counts. Pass `children` (from `children_by_parent`) to
    read several trees from one pass over /proc."""
    if children is None:
        children = children_by_parent()
    total = 0.0
    pending = [root]
    while pending:
        pid = pending.pop()
        total += _process_seconds(pid, with_reaped_children=True)
        pending.extend(children.get(pid, ()))
    return total


def machine_busy_seconds() -> float:
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / _TICK


def own_seconds() -> float:
    """This process's CPU seconds, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _reaped_children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True, slots=True)
class CpuSnapshot:
    at: float
    server: float
    postgres: float | None
    load: float  # processes this harness started and already reaped (wrk)
    machine: float


@dataclass(frozen=True, slots=True)
class CpuUsage:
    """Average cores in use over a run."""

    server: float
    postgres: float | None
    load: float
    machine: float

    @property
    def other(self) -> float:
        """Everything else on the machine: other people's work, Redis, the kernel."""
        return max(0.0, self.machine - self.server - (self.postgres or 0.0) - self.load)


def snapshot(server_pid: int, postmaster_pid: int | None) -> CpuSnapshot:
    return CpuSnapshot(
        at=time.monotonic(),
        server=_process_seconds(server_pid),
        postgres=tree_seconds(postmaster_pid) if postmaster_pid else None,
        load=_reaped_children_seconds(),
        machine=machine_busy_seconds(),
    )


def usage(before: CpuSnapshot, after: CpuSnapshot) -> CpuUsage:
    wall = max(after.at - before.at, 1e-9)
    postgres = None
    if before.postgres is not None and after.postgres is not None:
        postgres = (after.postgres - before.postgres) / wall
    return CpuUsage(
        server=(after.server - before.server) / wall,
        postgres=postgres,
        load=(after.load - before.load) / wall,
        machine=(after.machine - before.machine) / wall,
    )


def peak_rss_reset(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux clear_refs "5"); False if refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


def peak_rss_mb(pid: int) -> float:
    return _status_mb(pid, "VmHWM")


def rss_mb(pid: int) -> float:
    return _status_mb(pid, "VmRSS")


def wait_until_idle(pid: int, *, below: float = 0.05, timeout: float = 60.0) -> float:
    """Block until `pid` uses less than `below` cores over a quarter second (e.g. logins still
    hashing in the thread pool after wrk hung up); returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = _process_seconds(pid)
        time.sleep(0.25)
        if (_process_seconds(pid) - before) / 0.25 < below:
            break
    return time.monotonic() - started
