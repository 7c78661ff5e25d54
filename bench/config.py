"""Benchmark settings, from the environment (all optional)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
STATE_DIR = ROOT / ".taskhub" / "bench"

PAGE_SIZE = 20
BASE_TASKS = 10_000  # the "typical" user every GET case reads
WRITER_TASKS = 1_000  # the user POST and PATCH write to, so reads see stable data
CURSOR_HOPS = 500


class ConfigError(SystemExit):
    """A benchmark setting is invalid; the message says which and why."""


def _int_env(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name, "").strip().lower().removesuffix("s").replace("_", "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={os.environ[name]!r} is not a whole number") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum} (got {value})")
    return value


@dataclass(frozen=True, slots=True)
class BenchConfig:
    duration_s: int  # one wrk run
    warmup_s: int  # one untimed wrk run per case before the first round
    runs: int  # measured runs per case, each after its own ceiling run
    threads: int
    connections: int
    scale_tasks: int  # the large user; also where the cursor walk happens
    walk_depth: int  # pages the latency-by-depth walk goes through the API
    jobs: int  # jobs per job-throughput run
    keep: bool  # keep the run directory (data, logs, Lua scripts) for a post-mortem
    database_url: str | None  # use this PostgreSQL instead of an embedded one
    redis_url: str | None

    @classmethod
    def from_env(cls) -> BenchConfig:
        min_scale = PAGE_SIZE * (CURSOR_HOPS + 1) + 1
        return cls(
            duration_s=_int_env("BENCH_DURATION", 10, 1),
            warmup_s=_int_env("BENCH_WARMUP", 2, 0),
            runs=_int_env("BENCH_RUNS", 2, 2),
            threads=_int_env("BENCH_THREADS", 2, 1),
            connections=_int_env("BENCH_CONNECTIONS", 32, 1),
            scale_tasks=_int_env("BENCH_SCALE_TASKS", 1_000_000, min_scale),
            walk_depth=_int_env("BENCH_WALK_DEPTH", 1000, CURSOR_HOPS + 1),
            jobs=_int_env("BENCH_JOBS", 1000, 10),
            keep=os.environ.get("BENCH_KEEP", "") not in ("", "0", "false"),
            database_url=os.environ.get("DATABASE_URL") or None,
            redis_url=os.environ.get("REDIS_URL") or os.environ.get("REDIS_BROKER") or None,
        )

    @property
    def job_rounds(self) -> int:
        """Alternating (no-op, welcome) pairs. A pair takes seconds where an HTTP round takes
        twenty, and single pairs scatter widely on a noisy machine (0.35x to 0.57x within one
        run), so the job ratio gets three pairs for every HTTP round."""
        return self.runs * 3

    def describe(self) -> str:
        return (
            f"wrk -t{self.threads} -c{self.connections} -d{self.duration_s}s, {self.runs} runs per"
            f" case (each after a ceiling run), an untimed {self.warmup_s}s warm-up before each"
            f" case's first run, scale user"
            f" {self.scale_tasks:,} tasks, {self.job_rounds} job rounds of {self.jobs:,} jobs a side"
        )
