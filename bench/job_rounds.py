"""`python -m bench.job_rounds`: the job-throughput rounds of `make bench` alone.

Welcome jobs against a bare Celery no-op, alternating, on a fresh stack (embedded PostgreSQL and
Redis unless DATABASE_URL / REDIS_URL are set), without the seed and the HTTP cases: about a minute
at the default six pairs, where `make bench` takes twenty. It is the tool for a change to the job
path: run it before and after, alternating, and compare the ratios (`BENCH_RUNS` sets the pairs,
three per run as in `make bench`; `BENCH_JOBS` the jobs per round). Nothing is written to
bench/results/.
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from statistics import fmean

from bench.config import ROOT, BenchConfig
from bench.jobs import JobResults, JobRun
from bench.run import Run, log, run_directory, stop_on_sigterm


def _cpu(runs: list[JobRun]) -> str:
    total = fmean(run.cpu.total for run in runs)
    return f"{total:.2f} ms (worker {fmean(run.cpu.worker for run in runs):.2f})"


def summary(results: JobResults) -> str:
    ratios = results.pair_ratios
    return (
        f"welcome jobs {results.welcome_per_second:,.0f}/s, no-op {results.noop_per_second:,.0f}/s;"
        f" welcome / no-op {results.ratio:.3f}"
        f" (mean of {len(ratios)} pairs, {min(ratios):.3f} to {max(ratios):.3f});"
        f" CPU per job: welcome {_cpu(results.welcome)}, no-op {_cpu(results.noop)}"
    )


def main() -> int:
    os.chdir(ROOT)
    config = BenchConfig.from_env()
    stop_on_sigterm()
    with ExitStack() as stack:
        run = Run.start(config, run_directory(stack, config, "jobs"), stack)
        results = run.jobs()
        log("stopping everything")
    log(summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
