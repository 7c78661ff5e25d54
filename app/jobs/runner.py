"""Exactly-once execution on top of Celery's at-least-once delivery.

Every job has a deterministic id. Running it goes through `job_log`, whose PRIMARY KEY is that id:

1. Claim, committed before the work starts (so every attempt counts, even one whose process dies):
   `INSERT ... ON CONFLICT (job_id) DO NOTHING`. If the row already exists: `succeeded` or
   `failed` → nothing to do (the stored result is returned); `running` under a live lease →
   another worker has it, retry later; `running` with an expired lease → its worker died, take it
   over (a conditional UPDATE, so only one taker wins). Each of these statements is atomic on its
   own, so the claim runs in autocommit: a new job costs one round trip and one commit. That
   commit does not wait for its WAL flush (see _ASYNC_COMMIT).
2. Work, in a second transaction that also marks the job `succeeded`: database effects and the
   success mark commit together or not at all. A job that only reads (mail) skips the
   transaction: the mark is one statement, atomic on its own. Terminal marks (`succeeded`,
   `failed`) are fenced by the attempt number, so a worker whose lease was taken over cannot
   finish the job late.
3. On an error: retry with exponential backoff and jitter, up to JOB_MAX_ATTEMPTS; then `failed`
   with the error, re-runnable by `taskhub jobs retry JOB_ID`.

A terminal mark (`succeeded` or `failed`) sets the job's outbox `done_at` in the same statement, so
the relay stops republishing exactly when the job is finished.

The only effect outside the database is mail; see docs/FAILURE_MODES.md for its one crash window.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import orjson
import psycopg
from celery import Task
from psycopg.rows import namedtuple_row
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from app.config import Settings, get_settings
from app.workers.celery_app import worker_engine

logger = logging.getLogger("app.jobs")

JobBody = Callable[[Connection], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Claim:
    attempt: int  # fencing token: only the holder of this attempt may finish the job


class LeaseLost(RuntimeError):
    """Another worker took the job over while this one was running it."""


def backoff_seconds(settings: Settings, attempt: int) -> float:
    """Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter")."""
    ceiling = min(
        settings.job_retry_max_seconds, settings.job_retry_base_seconds * 2 ** (attempt - 1)
    )
    return random.uniform(ceiling / 2, ceiling)


def fetch_one(conn: Connection, sql: str, params: dict[str, Any]) -> Any:
    """Run `sql` (`%(name)s` placeholders) on the connection's psycopg connection; its first row
    as a named tuple, or None.

    The runner's statements, and a job's own lookups, run for every job: through SQLAlchemy's
    execution layer (result objects, bind processing, events) they cost a sixth of a welcome
    job's instructions in its worker process. psycopg prepares them after a few runs, as before.
    A connection that broke is invalidated, so the pool does not hand it out again."""
    driver = cast("psycopg.Connection[Any]", conn.connection.driver_connection)
    try:
        return driver.cursor(row_factory=namedtuple_row).execute(sql, params).fetchone()
    except psycopg.Error:
        if driver.closed or driver.broken:
            conn.invalidate()
        raise


# Appended to a job_log UPDATE ... RETURNING job_id: the job's outbox row is done in the same
# statement, so the terminal mark and `done_at` cannot come apart, at no extra round trip.
_AND_OUTBOX_DONE = (
    ", done AS (UPDATE outbox SET done_at = now() FROM finished"
    " WHERE outbox.job_id = finished.job_id)"
    " SELECT count(*) FROM finished"
)
# Prefixed to a claim, and joined by it (an unreferenced CTE is not run): the claim's own
# transaction commits without waiting for its WAL flush; the session's setting is untouched, so
# every terminal mark still waits. Other workers see the claim at once, as after any commit. A
# PostgreSQL crash can lose the last fraction of a second of claims, and no job's outcome depends
# on one: a mark's flush covers the claim before it, so a lost claim's job was not marked, and it
# runs again, as every job in flight during the crash does. In the benchmark this halved the
# claim's wall time (1.0 to 0.5 ms) and cut a fifth off a welcome job's (docs/SCALING.md).
_ASYNC_COMMIT = "WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true)) "
_CLAIM_NEW = (
    _ASYNC_COMMIT + "INSERT INTO job_log"
    " (job_id, name, status, attempts, started_at, lease_expires_at)"
    " SELECT %(job_id)s, %(name)s, 'running', 1, now(), now() + make_interval(secs => %(lease)s)"
    " FROM async_commit ON CONFLICT (job_id) DO NOTHING RETURNING attempts"
)
_TAKE_OVER = (
    _ASYNC_COMMIT + "UPDATE job_log SET attempts = attempts + 1, started_at = now(),"
    " lease_expires_at = now() + make_interval(secs => %(lease)s) FROM async_commit"
    " WHERE job_id = %(job_id)s AND status = 'running' AND attempts = %(attempts)s"
    " AND lease_expires_at <= now() RETURNING attempts"
)
_MARK_SUCCEEDED = (
    "WITH finished AS (UPDATE job_log SET status = 'succeeded',"
    " result = CAST(%(result)s AS jsonb), error = NULL, finished_at = now(),"
    " lease_expires_at = NULL"
    " WHERE job_id = %(job_id)s AND status = 'running' AND attempts = %(attempt)s"
    " RETURNING job_id)" + _AND_OUTBOX_DONE
)


def _claim(
    conn: Connection, job_id: str, name: str, settings: Settings
) -> Claim | dict[str, Any] | float:
    """A Claim to run the job; the stored result when it is finished; or seconds to wait.

    `conn` is in autocommit: every statement here commits on its own, fenced by its WHERE clause."""
    lease = {"job_id": job_id, "name": name, "lease": settings.job_lease_seconds}
    inserted = fetch_one(conn, _CLAIM_NEW, lease)
    if inserted is not None:
        return Claim(attempt=inserted.attempts)
    row = fetch_one(
        conn,
        "SELECT status, attempts, result,"
        " extract(epoch FROM lease_expires_at - now()) AS lease_left"
        " FROM job_log WHERE job_id = %(job_id)s",
        {"job_id": job_id},
    )
    if row.status in ("succeeded", "failed"):
        return dict(row.result or {})
    if row.lease_left is not None and row.lease_left > 0:
        return float(row.lease_left)
    if row.attempts >= settings.job_max_attempts:
        _finish_failed(
            conn, job_id, row.attempts, f"gave up after {row.attempts} attempts (worker lost)"
        )
        return {}
    taken = fetch_one(conn, _TAKE_OVER, {**lease, "attempts": row.attempts})
    return Claim(attempt=taken.attempts) if taken is not None else settings.job_retry_base_seconds


def _finish_failed(conn: Connection, job_id: str, attempt: int, error: str) -> None:
    fetch_one(
        conn,
        "WITH finished AS (UPDATE job_log SET status = 'failed', error = %(error)s,"
        " finished_at = now(), lease_expires_at = NULL"
        " WHERE job_id = %(job_id)s AND status = 'running' AND attempts = %(attempt)s"
        " RETURNING job_id)" + _AND_OUTBOX_DONE,
        {"job_id": job_id, "attempt": attempt, "error": error[:2000]},
    )


def _finish_succeeded(conn: Connection, job_id: str, claim: Claim, result: dict[str, Any]) -> None:
    finished = fetch_one(
        conn,
        _MARK_SUCCEEDED,
        {"job_id": job_id, "attempt": claim.attempt, "result": orjson.dumps(result).decode()},
    )
    if finished.count != 1:
        raise LeaseLost(job_id)


def _release_for_retry(conn: Connection, job_id: str, claim: Claim, error: str) -> None:
    """Record the error and expire the lease so the retry can take the job at once."""
    fetch_one(
        conn,
        "UPDATE job_log SET error = %(error)s, lease_expires_at = now()"
        " WHERE job_id = %(job_id)s AND status = 'running' AND attempts = %(attempt)s"
        " RETURNING job_id",
        {"job_id": job_id, "attempt": claim.attempt, "error": error[:2000]},
    )


def _work(body: JobBody, job_id: str, claim: Claim, *, read_only: bool) -> dict[str, Any]:
    """Run the body and mark the job succeeded. A body with database effects shares one
    transaction with the mark, so both commit or neither. A body that only reads (a mail job)
    needs no transaction: its reads and the mark, one atomic statement, each commit on their own,
    which saves the BEGIN and COMMIT round trips."""
    if read_only:
        with worker_engine().connect() as conn:
            autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
            result = body(autocommit)
            _finish_succeeded(autocommit, job_id, claim, result)
            return result
    with worker_engine().begin() as conn:
        result = body(conn)
        _finish_succeeded(conn, job_id, claim, result)
        return result


def run_job(
    task: Task[Any, Any], name: str, body: JobBody, *, read_only: bool = False
) -> dict[str, Any]:
    """Run `body` exactly once for the job id this Celery task was published with. Pass
    `read_only=True` only for a body without database effects (see `_work`)."""
    settings = get_settings()
    job_id = str(task.request.id)
    try:
        with worker_engine().connect() as conn:
            claimed = _claim(
                conn.execution_options(isolation_level="AUTOCOMMIT"), job_id, name, settings
            )
    except (SQLAlchemyError, psycopg.Error) as exc:  # database unreachable: retry, nothing claimed
        logger.warning("could not claim job: %s", exc, extra={"job_id": job_id, "outcome": "retry"})
        raise task.retry(countdown=backoff_seconds(settings, 1), max_retries=None) from exc
    if isinstance(claimed, dict):
        logger.info("job already finished", extra={"job_id": job_id, "outcome": "duplicate"})
        return claimed
    if isinstance(claimed, float):
        logger.info(
            "job is held by another worker", extra={"job_id": job_id, "outcome": "deferred"}
        )
        raise task.retry(countdown=claimed + random.uniform(0, 1), max_retries=None)
    try:
        result = _work(body, job_id, claimed, read_only=read_only)
    except LeaseLost:
        logger.warning(
            "lease lost; the new holder finishes", extra={"job_id": job_id, "outcome": "lease_lost"}
        )
        return {}
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        with worker_engine().begin() as conn:
            if claimed.attempt >= settings.job_max_attempts:
                _finish_failed(conn, job_id, claimed.attempt, error)
                logger.error(
                    "job failed for good",
                    extra={"job_id": job_id, "attempt": claimed.attempt, "outcome": "failed"},
                )
                return {}
            _release_for_retry(conn, job_id, claimed, error)
        logger.warning(
            "job failed; retrying",
            extra={"job_id": job_id, "attempt": claimed.attempt, "outcome": "retry"},
        )
        raise task.retry(
            countdown=backoff_seconds(settings, claimed.attempt), max_retries=None
        ) from exc
    logger.info(
        "job succeeded",
        extra={"job_id": job_id, "attempt": claimed.attempt, "outcome": "succeeded"},
    )
    return result
