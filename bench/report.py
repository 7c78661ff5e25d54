"""bench/results/latest.md: the goal table first, then everything needed to trust it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from bench.chart import CHART_LINK, MISSING_PREFIX
from bench.config import CURSOR_HOPS, BenchConfig
from bench.data import Dataset
from bench.depth import DepthProfile
from bench.goals import GoalCheck
from bench.jobs import JobResults, JobRun
from bench.measures import CaseResult


@dataclass(frozen=True, slots=True)
class RunRecord:
    config: BenchConfig
    command: str
    code: str  # commit and a digest of app/ as measured
    started: datetime
    finished: datetime
    machine: dict[str, str]
    load_before: str
    load_after: str
    versions: dict[str, str]
    data: Dataset
    cases: list[CaseResult]
    jobs: JobResults
    depth: DepthProfile
    peak_rss_mb: float
    goals: dict[str, GoalCheck]
    chart_problem: str | None  # why chart.png was not drawn; None when it was


def _met(goal: GoalCheck | None) -> tuple[str, str]:
    if goal is None:
        return "", ""
    return goal.text, (f"yes ({goal.shown})" if goal.met else f"**NO** ({goal.shown})")


def _cores(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _summary(record: RunRecord) -> list[str]:
    lines = [
        "| case | rps | p50 ms | p99 ms | x ceiling | goal | met? |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for result in record.cases:
        goal, met = _met(record.goals.get(result.case.key))
        lines.append(
            f"| {result.case.label} | {result.rps:,.0f} | {result.p50_ms:.1f} |"
            f" {result.p99_ms:.1f} | {result.ratio:.3f} | {goal} | {met} |"
        )
    jobs = record.jobs
    goal, met = _met(record.goals["jobs"])
    lines.append(
        f"| welcome jobs: outbox → relay → Celery → SMTP (jobs/s) | {jobs.welcome_per_second:,.0f}"
        f" | — | — | — | {goal} | {met} |"
    )
    lines.append(
        f"| bare Celery no-op, same broker and flags (jobs/s) | {jobs.noop_per_second:,.0f}"
        " | — | — | — | | |"
    )
    goal, met = _met(record.goals["rss"])
    lines.append(f"| API peak RSS during the GET cases | — | — | — | — | {goal} | {met} |")
    return lines


def _count(value: int | None) -> str:
    return "n/a" if value is None else str(value)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _cpu_split(record: RunRecord) -> list[str]:
    lines = [
        "CPU time per request, from the processes' CPU counters over each run (mean of runs):"
        " where a request's cost goes, independent of how busy the rest of the machine was. The"
        " server is TaskHub's API process, or the floor app for the floor case.",
        "",
        "| case | server ms/req | PostgreSQL ms/req | ceiling app ms/req | server ÷ ceiling |",
        "|---|---:|---:|---:|---:|",
    ]
    for result in record.cases:
        api, ceiling = result.server_ms_per_request, result.ceiling_ms_per_request
        factor = f"{api / ceiling:.1f}" if api and ceiling else "n/a"
        lines.append(
            f"| {result.case.label} | {_ms(api)} | {_ms(result.postgres_ms_per_request)} |"
            f" {_ms(ceiling)} | {factor} |"
        )
    return lines


def _mb(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def _runs(record: RunRecord) -> list[str]:
    lines = [
        "Cores: average CPU use during the run by the server process (the ceiling app in ceiling"
        " runs, the floor app in floor runs, TaskHub otherwise), PostgreSQL (postmaster and backends), wrk, and everything else"
        " on the machine (other people's work included). Memory: the API's VmHWM during read-only"
        " runs, and its VmRSS once each run's backlog drained.",
        "",
        "| case | run | ceiling rps (mean of the runs around) | case rps | x ceiling | p50 ms | p99 ms | errors |"
        " ceiling app cores | server cores | PostgreSQL cores | wrk cores | other cores |"
        " API peak MB | API RSS after MB | new PG connections |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in record.cases:
        for index, pair in enumerate(result.pairs, 1):
            usage = pair.case.cpu
            ceiling_cores = (pair.ceiling_before.cpu.server + pair.ceiling_after.cpu.server) / 2
            lines.append(
                f"| {result.case.key} | {index} | {pair.ceiling_rps:,.0f} |"
                f" {pair.case.wrk.rps:,.0f} | {pair.ratio:.3f} | {pair.case.wrk.p50_ms:.1f} |"
                f" {pair.case.wrk.p99_ms:.1f} | {pair.case.wrk.errors} |"
                f" {_cores(ceiling_cores)} | {_cores(usage.server)} |"
                f" {_cores(usage.postgres)} | {_cores(usage.load)} | {_cores(usage.other)} |"
                f" {_mb(pair.memory.peak_mb)} | {_mb(pair.memory.end_mb)} |"
                f" {_count(pair.case.new_connections)} |"
            )
    for result in record.cases:
        if result.companion_rps is not None:
            lines.append(
                f"\n{result.case.companion_label}: {result.companion_rps:,.1f} logins/s"
                " (one client, one connection)."
            )
        if result.case.key == "patch":
            stale = sum(pair.case.wrk.stale for pair in result.pairs)
            lines.append(f"\nPATCH answers 412 (stale ETag): {stale}.")
    return lines


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _job_row(index: int, side: str, run: JobRun, ratio: str) -> str:
    cpu = run.cpu
    return (
        f"| {index} | {side} | {run.per_second:,.0f} | {ratio} | {_ms(cpu.worker)} |"
        f" {_ms(cpu.postgres)} | {_ms(cpu.redis)} | {_ms(cpu.smtp_sink)} | {_ms(cpu.harness)} |"
        f" {_ms(cpu.other)} | {_ms(cpu.total)} | {cpu.cores:.2f} |"
    )


def job_table(jobs: JobResults) -> list[str]:
    lines = [
        f"{jobs.welcome[0].jobs:,} jobs a side per run. CPU: milliseconds per job, each process's"
        " CPU time over the run (a Celery worker with its pool processes) over the jobs; other is"
        " the rest of the machine's busy time (the idle worker, the kernel, other tenants). With"
        " about 2 of 2 cores busy the machine was saturated and the rate follows the CPU per job;"
        " with fewer, jobs also waited.",
        "",
        "| run | side | jobs/s | welcome ÷ no-op | worker | PostgreSQL | Redis | SMTP sink |"
        " harness | other | all CPU | cores busy |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    pairs = zip(jobs.noop, jobs.welcome, jobs.pair_ratios, strict=True)
    for index, (noop, welcome, ratio) in enumerate(pairs, 1):
        lines.append(_job_row(index, "no-op", noop, ""))
        lines.append(_job_row(index, "welcome", welcome, f"{ratio:.3f}"))
    return lines


def _depth(depth: DepthProfile) -> list[str]:
    lines = [
        "| page | API keyset, HTTP ms | SQL keyset ms | SQL OFFSET ms |",
        "|---:|---:|---:|---:|",
    ]
    pages = sorted(set(depth.api_keyset_ms) | set(depth.sql_offset_ms))
    for page in pages:
        cells = [
            f"{table[page]:.2f}" if page in table else "—"
            for table in (depth.api_keyset_ms, depth.sql_keyset_ms, depth.sql_offset_ms)
        ]
        lines.append(f"| {page:,} | " + " | ".join(cells) + " |")
    return lines


def render(record: RunRecord) -> str:
    config, data = record.config, record.data
    minutes = (record.finished - record.started).total_seconds() / 60
    versions = ", ".join(f"{name} {version}" for name, version in record.versions.items())
    machine = ", ".join(f"{name} {value}" for name, value in record.machine.items())
    seeding = ", ".join(
        f"{role} {seconds:.1f}s" for role, seconds in record.data.seed_seconds.items()
    )
    parts = [
        "# TaskHub benchmark",
        "",
        f"- Command: `{record.command}`",
        f"- Date: {record.started:%Y-%m-%d %H:%M} UTC, {minutes:.1f} minutes",
        f"- Code: {record.code}",
        f"- Machine: {machine}; load average {record.load_before} before,"
        f" {record.load_after} after",
        f"- Versions: {versions}",
        f"- Load: {config.describe()}",
        "- TaskHub: ENV=prod, 48-byte JWT_SECRET, LOG_LEVEL=WARNING, PASSWORD_HASH_PROFILE=owasp,"
        " docs off; `uvicorn --workers=1 --loop=uvloop --http=httptools --no-access-log`"
        " (the ceiling app runs on the same command line); embedded PostgreSQL with fsync on,"
        " migrated with `taskhub migrate`",
        f"- Data: {data.base.tasks:,} tasks for the GET user, {data.writer.tasks:,} for the"
        f" POST/PATCH user, {data.scale.tasks:,} for the scale user (seeded by app.seed:"
        f" {seeding})",
        "",
        "## Results",
        "",
        *_summary(record),
        "",
        "Each case is the mean of its runs. Every case run sits between two ceiling runs (ceiling,"
        " case, ceiling, case, ..., ceiling); x ceiling is the mean over runs of the case's rps"
        " over the mean of those two. Relative goals compare these ceiling-normalised ratios.",
        "",
        CHART_LINK if record.chart_problem is None else MISSING_PREFIX + record.chart_problem,
        "",
        "## Where the time goes",
        "",
        *_cpu_split(record),
        "",
        "## Every run",
        "",
        *_runs(record),
        "",
        "## Job throughput",
        "",
        *job_table(record.jobs),
        "",
        "## Latency against page depth (scale user, 20 per page)",
        "",
        "API: median of 15 requests for each page reached by following `next_cursor`, the pages"
        " taking turns (one request each per round). SQL: the same row rendering run directly in"
        " PostgreSQL (median of up to 7 runs); OFFSET is"
        " `ORDER BY created_at DESC, id DESC OFFSET (page-1)*20 LIMIT 20`.",
        "",
        *_depth(record.depth),
        "",
        "## Method notes",
        "",
        f"- The page after {CURSOR_HOPS} hops needs more than {CURSOR_HOPS * 20:,} rows, so it is"
        " measured on the scale user and compared with that user's first page.",
        "- PATCH sends `If-Match` with the task's current ETag: each wrk thread owns a slice of"
        " 1,000 tasks, starts from their versions in the database and stores the `ETag` of every"
        " 200 answer. This exercises the version check (`If-Match: *` would skip it).",
        "- GET /tasks/{id} cycles through 200 of the GET user's tasks.",
        "- GET while logging in: a second wrk process (1 thread, 1 connection) logs in"
        " continuously during the GET run; compared with the plain first-page case.",
        "- Peak RSS: VmHWM of the API process, reset (`/proc/PID/clear_refs` = 5) before each"
        " read-only run and read after it. The goal takes the maximum over all of them, so it"
        " includes the second round, which runs after the login runs; the peak of the first"
        " round (before any login or write) is shown next to it.",
        "- Welcome jobs: N users with e-mail and their outbox rows are inserted directly; the clock"
        " runs from the first relay publish to the Nth `succeeded` job_log row. The no-op clock"
        " runs from the first `send_task` to the Nth Redis INCR. Both workers: 2 prefork"
        " processes, acks_late, prefetch 1, JSON.",
        "- Numbers from a shared 2-core machine are noisy; the ratios to the ceiling, measured"
        " seconds apart, are the comparable figures. `other cores` shows how busy the rest of"
        " the machine was.",
    ]
    return "\n".join(parts) + "\n"


def write(record: RunRecord, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(record))


def summary_json(record: RunRecord, chart: dict[str, object]) -> dict[str, object]:
    """The run's key numbers, machine-readable (bench/results/latest.json)."""
    return {
        "date": record.started.isoformat(),
        "command": record.command,
        "code": record.code,
        "machine": record.machine,
        "versions": record.versions,
        "cases": {
            result.case.key: {
                "label": result.case.label,
                "rps": result.rps,
                "p50_ms": result.p50_ms,
                "p99_ms": result.p99_ms,
                "x_ceiling": result.ratio,
                "server_cpu_ms_per_request": result.server_ms_per_request,
                "postgres_cpu_ms_per_request": result.postgres_ms_per_request,
                "runs": [
                    {"rps": pair.case.wrk.rps, "ceiling_rps": pair.ceiling_rps}
                    for pair in result.pairs
                ],
            }
            for result in record.cases
        },
        "jobs": {
            "welcome_per_second": record.jobs.welcome_per_second,
            "noop_per_second": record.jobs.noop_per_second,
            "ratio": record.jobs.ratio,
            "runs": [
                {
                    "side": side,
                    "per_second": run.per_second,
                    "cpu": {**asdict(run.cpu), "all": run.cpu.total},
                }
                for noop, welcome in zip(record.jobs.noop, record.jobs.welcome, strict=True)
                for side, run in (("noop", noop), ("welcome", welcome))
            ],
        },
        "peak_rss_mb": record.peak_rss_mb,
        "goals": {
            key: {"goal": goal.text, "value": goal.value, "met": goal.met}
            for key, goal in record.goals.items()
        },
        "chart": chart,
    }
