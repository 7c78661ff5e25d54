"""Job throughput: welcome e-mails through the whole exactly-once path against a bare Celery
no-op on the same broker, same pool and same flags, alternating runs.

Welcome path, per run: N users with an e-mail and their outbox rows are inserted directly (as
registration would, minus the HTTP and argon2 cost), then the clock starts, the relay
(`app.jobs.relay.publish_pending`) publishes them, and the clock stops when their N outbox rows
are done (claim, user lookup, SMTP to the sink, success mark, outbox `done_at`); then every job
must be `succeeded` in job_log, or the run fails. No-op path:
N `send_task` calls, and the clock stops when the tasks' Redis counter reaches N.

Watching must cost next to nothing on both paths, or the watcher takes CPU from the jobs it
times: the no-op side reads one Redis key, and the welcome side counts the run's outbox rows that
are still open (a range of their primary key) rather than matching N job ids on every poll.

Each run also records where the CPU went, per job: the worker (its pool included), PostgreSQL,
Redis, the SMTP sink, this harness (publishing and watching) and the rest of the machine. With the
machine's busy cores it tells a run that was short of CPU (about 2 of 2 cores busy: the ratio
follows the CPU each job costs) from one whose jobs waited.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from statistics import fmean

import psycopg
from redis import Redis

from bench import cpu

POLL_S = 0.02  # the last polls' interval: how late a run's end can be seen
LONGEST_POLL_S = 0.25
TIMEOUT_S = 300.0
WARMUP_JOBS = 8  # enough for every pool process to open its connections


class JobRunFailed(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class JobProcesses:
    """The processes a job run's CPU is split between. PostgreSQL and Redis are None when they
    were configured rather than started by the harness: their time then counts as `other`."""

    noop_worker: int
    taskhub_worker: int
    postmaster: int | None
    redis: int | None
    smtp_sink: int


@dataclass(frozen=True, slots=True)
class JobCpu:
    """CPU milliseconds per job by where they were spent, and the machine's busy cores."""

    worker: float
    postgres: float | None
    redis: float | None
    smtp_sink: float
    harness: float
    other: float  # the other worker idling, the kernel, anything else on the machine
    cores: float

    @property
    def total(self) -> float:
        named = self.worker + self.smtp_sink + self.harness + self.other
        return named + (self.postgres or 0.0) + (self.redis or 0.0)


@dataclass(frozen=True, slots=True)
class CpuReading:
    """Cumulative CPU seconds, read at `at` (a perf_counter reading)."""

    at: float
    worker: float
    postgres: float | None
    redis: float | None
    smtp_sink: float
    harness: float
    machine: float


def read_cpu(worker: int, processes: JobProcesses) -> CpuReading:
    children = cpu.children_by_parent()  # one pass over /proc for the four trees

    def tree(pid: int | None) -> float | None:
        return None if pid is None else cpu.tree_seconds(pid, children)

    return CpuReading(
        at=time.perf_counter(),
        worker=cpu.tree_seconds(worker, children),
        postgres=tree(processes.postmaster),
        redis=tree(processes.redis),
        smtp_sink=cpu.tree_seconds(processes.smtp_sink, children),
        harness=cpu.own_seconds(),
        machine=cpu.machine_busy_seconds(),
    )


def cpu_per_job(before: CpuReading, after: CpuReading, jobs: int) -> JobCpu:
    def ms(start: float, end: float) -> float:
        return (end - start) * 1000 / jobs

    def optional_ms(start: float | None, end: float | None) -> float | None:
        return None if start is None or end is None else ms(start, end)

    named = JobCpu(
        worker=ms(before.worker, after.worker),
        postgres=optional_ms(before.postgres, after.postgres),
        redis=optional_ms(before.redis, after.redis),
        smtp_sink=ms(before.smtp_sink, after.smtp_sink),
        harness=ms(before.harness, after.harness),
        other=0.0,
        cores=(after.machine - before.machine) / max(after.at - before.at, 1e-9),
    )
    return replace(named, other=max(0.0, ms(before.machine, after.machine) - named.total))


@dataclass(frozen=True, slots=True)
class JobRun:
    jobs: int
    seconds: float
    cpu: JobCpu

    @property
    def per_second(self) -> float:
        return self.jobs / self.seconds

    def describe(self) -> str:
        postgres = "" if self.cpu.postgres is None else f", PostgreSQL {self.cpu.postgres:.2f}"
        return (
            f"{self.per_second:.0f} jobs/s, {self.cpu.total:.2f} ms of CPU per job"
            f" (worker {self.cpu.worker:.2f}{postgres}), {self.cpu.cores:.2f} cores busy"
        )


@dataclass(frozen=True, slots=True)
class JobResults:
    welcome: list[JobRun]
    noop: list[JobRun]

    @staticmethod
    def _mean(runs: list[JobRun]) -> float:
        return fmean(run.per_second for run in runs)

    @property
    def welcome_per_second(self) -> float:
        return self._mean(self.welcome)

    @property
    def noop_per_second(self) -> float:
        return self._mean(self.noop)

    @property
    def pair_ratios(self) -> list[float]:
        """Each welcome run's rate over the rate of the no-op run just before it."""
        pairs = zip(self.welcome, self.noop, strict=True)
        return [welcome.per_second / noop.per_second for welcome, noop in pairs]

    @property
    def ratio(self) -> float:
        """Mean of the paired ratios: drift between pairs cancels."""
        return fmean(self.pair_ratios)


def _wait_until(done: Callable[[], int], target: int, started: float, what: str) -> None:
    """Poll until `done()` reaches `target`. Each pause is half the time the rate since `started`
    (a perf_counter reading) predicts is left, so a run is watched with a few dozen polls, not
    hundreds, and its end is still seen within POLL_S unless the rate more than doubles."""
    while (count := done()) < target:
        elapsed = time.perf_counter() - started
        if elapsed > TIMEOUT_S:
            raise JobRunFailed(f"{what}: only {count} of {target} done after {TIMEOUT_S:.0f}s")
        predicted_left = (target - count) * elapsed / count if count else POLL_S
        time.sleep(min(max(predicted_left / 2, POLL_S), LONGEST_POLL_S))


def run_noop(redis_url: str, jobs: int, processes: JobProcesses) -> JobRun:
    from bench.noop_celery import TASK
    from bench.noop_celery import app as noop_app

    key = f"bench:noop:{uuid.uuid4().hex}"
    redis = Redis.from_url(redis_url)
    try:
        before = read_cpu(processes.noop_worker, processes)
        started = time.perf_counter()
        for _ in range(jobs):
            noop_app.send_task(TASK, args=[key])
        _wait_until(lambda: int(redis.get(key) or 0), jobs, started, "no-op tasks")
        seconds = time.perf_counter() - started
        after = read_cpu(processes.noop_worker, processes)
        redis.delete(key)
    finally:
        redis.close()
    return JobRun(jobs, seconds, cpu_per_job(before, after, jobs))


@dataclass(frozen=True, slots=True)
class WelcomeBatch:
    job_ids: list[str]
    outbox_ids: range  # the rows were inserted by one statement: one range covers them


def _insert_welcome_jobs(conn: psycopg.Connection, prefix: str, jobs: int) -> WelcomeBatch:
    from app.jobs.names import WELCOME_EMAIL, welcome_email_id

    user_ids = [uuid.uuid4() for _ in range(jobs)]
    usernames = [f"{prefix}_{index}" for index in range(jobs)]
    job_ids = [welcome_email_id(user_id) for user_id in user_ids]
    with conn.transaction():
        conn.execute(
            "INSERT INTO users (id, username, email, hashed_password)"
            " SELECT id, name, name || '@example.com', 'not-a-hash'"
            " FROM unnest(%s::uuid[], %s::text[]) AS u(id, name)",
            (user_ids, usernames),
        )
        row = conn.execute(
            "WITH inserted AS (INSERT INTO outbox (job_id, name, kwargs, owner_id)"
            " SELECT job_id, %s, jsonb_build_object('user_id', id::text), id"
            " FROM unnest(%s::uuid[], %s::text[]) AS o(id, job_id) RETURNING id)"
            " SELECT min(id), max(id) FROM inserted",
            (WELCOME_EMAIL, user_ids, job_ids),
        ).fetchone()
    assert row is not None
    return WelcomeBatch(job_ids, range(row[0], row[1] + 1))


def _open_outbox_rows(conn: psycopg.Connection, batch: WelcomeBatch) -> int:
    """Rows of the batch whose job has not reached `succeeded` or `failed` (either sets done_at).
    A row of another writer inside the range only makes the wait longer."""
    row = conn.execute(
        "SELECT count(*) FROM outbox WHERE id BETWEEN %s AND %s AND done_at IS NULL",
        (batch.outbox_ids[0], batch.outbox_ids[-1]),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _check_succeeded(conn: psycopg.Connection, batch: WelcomeBatch) -> None:
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE status = 'failed'),"
        " count(*) FILTER (WHERE status = 'succeeded')"
        " FROM job_log WHERE job_id = ANY(%s::text[])",
        (batch.job_ids,),
    ).fetchone()
    assert row is not None
    failed, succeeded = row
    if failed:
        raise JobRunFailed(f"{failed} welcome jobs failed; see the taskhub-worker log")
    if succeeded != len(batch.job_ids):
        raise JobRunFailed(f"only {succeeded} of {len(batch.job_ids)} welcome jobs succeeded")


def run_welcome(dsn: str, prefix: str, jobs: int, processes: JobProcesses) -> JobRun:
    from app.jobs.relay import publish_pending

    with psycopg.connect(dsn, autocommit=True) as conn:
        batch = _insert_welcome_jobs(conn, prefix, jobs)
        before = read_cpu(processes.taskhub_worker, processes)
        started = time.perf_counter()
        while publish_pending():
            pass
        _wait_until(lambda: jobs - _open_outbox_rows(conn, batch), jobs, started, "welcome jobs")
        seconds = time.perf_counter() - started
        after = read_cpu(processes.taskhub_worker, processes)
        _check_succeeded(conn, batch)
        return JobRun(jobs, seconds, cpu_per_job(before, after, jobs))


def run_job_benchmarks(
    dsn: str,
    redis_url: str,
    processes: JobProcesses,
    prefix: str,
    jobs: int,
    runs: int,
    log: Callable[[str], None],
) -> JobResults:
    """Warm both workers up, then alternate: no-op run, welcome run, no-op run, ..."""
    run_noop(redis_url, WARMUP_JOBS, processes)
    run_welcome(dsn, f"{prefix}_jobwarm", WARMUP_JOBS, processes)
    welcome: list[JobRun] = []
    noop: list[JobRun] = []
    for index in range(runs):
        noop.append(run_noop(redis_url, jobs, processes))
        log(f"no-op Celery run {index + 1}: {noop[-1].describe()}")
        welcome.append(run_welcome(dsn, f"{prefix}_job{index}", jobs, processes))
        log(f"welcome-job run {index + 1}: {welcome[-1].describe()}")
    return JobResults(welcome, noop)
