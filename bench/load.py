"""Running the HTTP cases: a warm-up, then rounds of (ceiling run, case run) pairs so drift
on a shared machine hits both sides of every ratio alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench import cpu, lua
from bench.cases import Case, Load
from bench.config import BenchConfig
from bench.measures import CaseResult, Measured, Memory, Pair
from bench.servers import Server
from bench.wrk import WrkResult, WrkSpec, run_concurrently

CEILING_PATH = "/ping"


@dataclass
class RssTracker:
    """The API's memory per run: VmHWM is reset before each read-only run (Linux clear_refs);
    where the kernel refuses, the peak is kept only until the first run that is not read-only."""

    pid: int
    resettable: bool = True
    writes_seen: bool = False

    def before(self, case: Case) -> None:
        if case.reads_only and not case.on_floor and self.resettable:
            self.resettable = cpu.peak_rss_reset(self.pid)

    def after(self, case: Case) -> Memory:
        sealed = self.writes_seen and not self.resettable
        measured = case.reads_only and not case.on_floor and not sealed
        peak = cpu.peak_rss_mb(self.pid) if measured else None
        memory = Memory(peak, cpu.rss_mb(self.pid), before_writes=not self.writes_seen)
        self.writes_seen = self.writes_seen or not case.reads_only
        return memory


class SessionCounter:
    """PostgreSQL sessions opened so far (pg_stat_database.sessions, PostgreSQL 14+): a pool
    that closes and reopens connections under load shows up here."""

    def __init__(self, dsn: str) -> None:
        self._conn = psycopg.connect(dsn, autocommit=True)

    def __call__(self) -> int | None:
        row = self._conn.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def close(self) -> None:
        self._conn.close()


class LoadRunner:
    def __init__(
        self,
        wrk: str,
        config: BenchConfig,
        api: Server,
        floor: Server,
        ceiling: Server,
        postmaster_pid: int | None,
        sessions: SessionCounter,
        settle: Callable[[], float],  # untimed, after each run that wrote: VACUUM (ANALYZE)
        script_dir: Path,
        log: Callable[[str], None],
    ) -> None:
        self.wrk = wrk
        self.config = config
        self.api = api
        self.floor = floor
        self.ceiling = ceiling
        self.postmaster_pid = postmaster_pid
        self.sessions = sessions
        self.settle = settle
        self.script_dir = script_dir
        self.log = log
        self.rss = RssTracker(api.pid)
        self.raw: list[str] = []  # every wrk output, for bench/results/latest.raw
        self._scripts = 0

    def _spec(self, server: Server, load: Load, duration_s: int) -> WrkSpec:
        self._scripts += 1
        script = self.script_dir / f"{self._scripts:03d}.lua"
        script.write_text(load.script())
        url = server.base_url + load.path
        return WrkSpec(url, script, load.threads, load.connections, duration_s)

    def _specs(self, server: Server, loads: list[Load], duration_s: int) -> list[WrkSpec]:
        """Scripts are written before a run starts: building one may log in for a fresh token,
        and that login's hash must not count in the run's CPU or memory."""
        return [self._spec(server, load, duration_s) for load in loads]

    def _measure(
        self, server: Server, specs: list[WrkSpec], title: str
    ) -> tuple[Measured, WrkResult | None]:
        sessions_before = self.sessions()
        before = cpu.snapshot(server.pid, self.postmaster_pid)
        results = run_concurrently(self.wrk, specs)
        usage = cpu.usage(before, cpu.snapshot(server.pid, self.postmaster_pid))
        server.child.check_alive()
        waited = cpu.wait_until_idle(server.pid)
        if waited > 2:
            self.log(f"{title}: the server took {waited:.0f}s to go idle after wrk stopped")
        sessions_after = self.sessions()
        new_connections = None
        if sessions_before is not None and sessions_after is not None:
            new_connections = sessions_after - sessions_before
        for result in results:
            self.raw.append(f"### {title}\n{result.output}")
        companion = results[1] if len(results) > 1 else None
        return Measured(results[0], usage, new_connections), companion

    def _ceiling_load(self) -> Load:
        return Load(
            CEILING_PATH,
            lambda: lua.static_request("GET", {}),
            self.config.threads,
            self.config.connections,
        )

    def _case_loads(self, case: Case) -> list[Load]:
        return [case.load, case.companion] if case.companion else [case.load]

    def _warm_up(self, server: Server, loads: list[Load], label: str) -> None:
        """One untimed run: fills the connection pool, prepares statements, loads code paths;
        and a misconfigured case fails here rather than after ten minutes."""
        if not self.config.warmup_s:
            return
        specs = self._specs(server, loads, self.config.warmup_s)
        measured, _ = self._measure(server, specs, f"warm-up {label}")
        if measured.wrk.requests and measured.wrk.error_share > 0.5:
            raise RuntimeError(f"{label}: mostly errors in warm-up:\n{measured.wrk.output}")
        self.log(f"warm-up {label}: {measured.wrk.rps:,.0f} rps")

    def run(self, cases: list[Case]) -> list[CaseResult]:
        """Ceiling, case, ceiling, case, ..., ceiling: every case run sits between two ceiling
        runs. In the first round each case is warmed up just before its first run, so the read
        cases run before any login has touched the API's memory."""
        results = [CaseResult(case) for case in cases]
        total = self.config.runs * len(cases)
        self._warm_up(self.ceiling, [self._ceiling_load()], "ceiling")
        ceiling = self._ceiling_run("first ceiling")
        for round_index in range(self.config.runs):
            for index, result in enumerate(results, round_index * len(cases) + 1):
                case, title = result.case, f"round {round_index + 1} {result.case.key}"
                server = self.floor if case.on_floor else self.api
                if round_index == 0:
                    self._warm_up(server, self._case_loads(case), case.label)
                specs = self._specs(server, self._case_loads(case), self.config.duration_s)
                self.rss.before(case)
                measured, companion = self._measure(server, specs, title)
                memory = self.rss.after(case)
                if not case.reads_only:
                    self.log(f"{title}: vacuumed in {self.settle():.1f}s")
                after = self._ceiling_run(f"{title} ceiling after")
                pair = Pair(ceiling, measured, after, companion, memory)
                result.pairs.append(pair)
                ceiling = after
                self.log(
                    f"[{index:2d}/{total}] ceiling {pair.ceiling_rps:,.0f} rps |"
                    f" {case.label}: {measured.wrk.rps:,.0f} rps,"
                    f" p99 {measured.wrk.p99_ms:.1f} ms, {pair.ratio:.3f}x ceiling,"
                    f" server {measured.cpu.server:.2f} cores"
                    + (f", {measured.wrk.errors} errors" if measured.wrk.errors else "")
                )
        return results

    def _ceiling_run(self, title: str) -> Measured:
        specs = self._specs(self.ceiling, [self._ceiling_load()], self.config.duration_s)
        measured, _ = self._measure(self.ceiling, specs, title)
        return measured
