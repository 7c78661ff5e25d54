"""Job throughput: welcome e-mails through the whole exactly-once path against a bare Celery
no-op on the same broker, same pool and same flags, alternating runs.

Welcome path, per run: N users with an e-mail and their outbox rows are inserted directly (as
registration would, minus the HTTP and argon2 cost), then the clock starts, the relay
(`app.jobs.relay.publish_pending`) publishes them, and the clock stops when N job_log rows are
`succeeded`: claim, user lookup, SMTP to the sink, success mark, outbox `done_at`. No-op path:
N `send_task` calls, and the clock stops when the tasks' Redis counter reaches N.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from redis import Redis

POLL_S = 0.02
TIMEOUT_S = 300.0
WARMUP_JOBS = 8  # enough for every pool process to open its connections


class JobRunFailed(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class JobRun:
    jobs: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.jobs / self.seconds


@dataclass(frozen=True, slots=True)
class JobResults:
    welcome: list[JobRun]
    noop: list[JobRun]

    @staticmethod
    def _mean(runs: list[JobRun]) -> float:
        return sum(run.per_second for run in runs) / len(runs)

    @property
    def welcome_per_second(self) -> float:
        return self._mean(self.welcome)

    @property
    def noop_per_second(self) -> float:
        return self._mean(self.noop)

    @property
    def ratio(self) -> float:
        """Mean of the paired (noop run, welcome run) ratios: drift between pairs cancels."""
        pairs = zip(self.welcome, self.noop, strict=True)
        ratios = [welcome.per_second / noop.per_second for welcome, noop in pairs]
        return sum(ratios) / len(ratios)


def _wait_until(done: Callable[[], int], target: int, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while (count := done()) < target:
        if time.monotonic() > deadline:
            raise JobRunFailed(f"{what}: only {count} of {target} done after {TIMEOUT_S:.0f}s")
        time.sleep(POLL_S)


def run_noop(redis_url: str, jobs: int) -> JobRun:
    from bench.noop_celery import TASK
    from bench.noop_celery import app as noop_app

    key = f"bench:noop:{uuid.uuid4().hex}"
    redis = Redis.from_url(redis_url)
    try:
        started = time.perf_counter()
        for _ in range(jobs):
            noop_app.send_task(TASK, args=[key])
        _wait_until(lambda: int(redis.get(key) or 0), jobs, "no-op tasks")
        seconds = time.perf_counter() - started
        redis.delete(key)
    finally:
        redis.close()
    return JobRun(jobs, seconds)


def _insert_welcome_jobs(conn: psycopg.Connection, prefix: str, jobs: int) -> list[str]:
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
        conn.execute(
            "INSERT INTO outbox (job_id, name, kwargs, owner_id)"
            " SELECT job_id, %s, jsonb_build_object('user_id', id::text), id"
            " FROM unnest(%s::uuid[], %s::text[]) AS o(id, job_id)",
            (WELCOME_EMAIL, user_ids, job_ids),
        )
    return job_ids


def _succeeded(conn: psycopg.Connection, job_ids: list[str]) -> int:
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE status = 'succeeded'),"
        " count(*) FILTER (WHERE status = 'failed')"
        " FROM job_log WHERE job_id = ANY(%s::text[])",
        (job_ids,),
    ).fetchone()
    assert row is not None
    if row[1]:
        raise JobRunFailed(f"{row[1]} welcome jobs failed; see the taskhub-worker log")
    return int(row[0])


def run_welcome(dsn: str, prefix: str, jobs: int) -> JobRun:
    from app.jobs.relay import publish_pending

    with psycopg.connect(dsn, autocommit=True) as conn:
        job_ids = _insert_welcome_jobs(conn, prefix, jobs)
        started = time.perf_counter()
        while publish_pending():
            pass
        _wait_until(lambda: _succeeded(conn, job_ids), jobs, "welcome jobs")
        return JobRun(jobs, time.perf_counter() - started)


def run_job_benchmarks(
    dsn: str, redis_url: str, prefix: str, jobs: int, runs: int, log: Callable[[str], None]
) -> JobResults:
    """Warm both workers up, then alternate: no-op run, welcome run, no-op run, ..."""
    run_noop(redis_url, WARMUP_JOBS)
    run_welcome(dsn, f"{prefix}_jobwarm", WARMUP_JOBS)
    welcome: list[JobRun] = []
    noop: list[JobRun] = []
    for index in range(runs):
        noop.append(run_noop(redis_url, jobs))
        log(f"no-op Celery run {index + 1}: {noop[-1].per_second:.0f} jobs/s")
        welcome.append(run_welcome(dsn, f"{prefix}_job{index}", jobs))
        log(f"welcome-job run {index + 1}: {welcome[-1].per_second:.0f} jobs/s")
    return JobResults(welcome, noop)
