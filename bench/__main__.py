"""`python -m bench` (`make bench`): start TaskHub and the ceiling, seed, load, report.

Everything started here runs in its own process group and is registered on one ExitStack, so
a normal end, an error, Ctrl-C or SIGTERM all stop every process and remove the run's data.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from contextlib import ExitStack
from datetime import UTC, datetime

from bench import environment
from bench.chart import chart_data, draw
from bench.config import RESULTS_DIR, ROOT, BenchConfig
from bench.goals import evaluate
from bench.measures import peak_rss_mb
from bench.report import RunRecord, summary_json, write
from bench.run import Run, log, run_directory, stop_on_sigterm
from bench.servers import ensure_smtp_sink
from bench.wrk import ensure_wrk


def _command() -> str:
    knobs = [
        f"{name}={shlex.quote(value)}"
        for name, value in sorted(os.environ.items())
        if name.startswith("BENCH_")
    ]
    knobs += [f"{name}=…" for name in ("DATABASE_URL", "REDIS_URL") if os.environ.get(name)]
    python = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(str(ROOT)) else ""
    return " ".join([*knobs, python or sys.executable, "-m", "bench"])


def main() -> int:
    os.chdir(ROOT)
    config = BenchConfig.from_env()
    command = _command()
    wrk = ensure_wrk()
    ensure_smtp_sink()  # a missing tool stops the run now, not after the HTTP cases
    stop_on_sigterm()
    started = datetime.now(UTC)
    code, load_before = environment.code_identity(), environment.load_average()
    with ExitStack() as stack:
        run_dir = run_directory(stack, config, f"run-{started:%Y%m%d-%H%M%S}")
        run = Run.start(config, run_dir, stack)
        data = run.seed()
        results, depth = run.http(data, wrk)
        jobs = run.jobs()
        versions = run.versions(wrk)
        log("stopping everything")

    peak_rss = peak_rss_mb(results)
    peak_before_writes = peak_rss_mb(results, before_writes_only=True)
    by_key = {result.case.key: result for result in results}
    goals = evaluate(by_key, jobs, peak_rss, peak_before_writes)
    chart = chart_data(results, jobs, goals, depth)
    record = RunRecord(
        config=config,
        command=command,
        code=code,
        started=started,
        finished=datetime.now(UTC),
        machine=environment.machine(),
        load_before=load_before,
        load_after=environment.load_average(),
        versions=versions,
        data=data,
        cases=results,
        jobs=jobs,
        depth=depth,
        peak_rss_mb=peak_rss,
        goals=goals,
        chart_problem=draw(chart, RESULTS_DIR / "chart.png"),
    )
    write(record, RESULTS_DIR / "latest.md")
    summary = summary_json(record, chart.to_json())
    (RESULTS_DIR / "latest.json").write_text(json.dumps(summary, indent=1) + "\n")
    for key, goal in goals.items():
        log(f"goal {key}: {goal.text}: {goal.shown} -> {'met' if goal.met else 'MISSED'}")
    log(
        f"wrote {RESULTS_DIR / 'latest.md'}"
        + (" and chart.png" if not record.chart_problem else "")
    )
    if record.chart_problem:
        log(f"chart not drawn: {record.chart_problem}")
    return 0 if all(goal.met for goal in goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
