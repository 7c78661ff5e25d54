"""SPEC §6 under faults: duplicate delivery, worker deaths before and after commit, poison jobs,
failed jobs re-run by an operator. Real Redis, real Celery worker processes, real SMTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.auth import service as auth_service
from app.auth.schemas import RegisterRequest
from app.db import create_sessionmaker, session_scope
from app.jobs.mail import message_id
from app.jobs.publisher import publish
from app.workers.celery_app import create_celery
from tests.jobs.conftest import job_row, make_committed_user, marker_lines
from tests.jobs.stack import JobStack, wait_until

# The job pauses for PAUSE seconds at the fault point: inside its lease and the hard time limit
# (both JOB_LEASE_SECONDS), so the test's kill -9, not the time limit, is what stops it.
KILLABLE = {"JOB_LEASE_SECONDS": "6"}
PAUSE = 5.0


def _publish(stack: JobStack, settings, name: str, job_id: str, **kwargs: object) -> None:  # type: ignore[no-untyped-def]
    celery = create_celery(settings.model_copy(update={"redis_broker": stack.redis.url}))
    publish(celery, job_id=job_id, name=name, kwargs=kwargs)


def _queue_drained(stack: JobStack) -> bool:
    import redis

    client = redis.Redis.from_url(stack.redis.url)
    return client.llen("celery") == 0 and client.hlen("unacked") == 0


async def test_rolled_back_registration_enqueues_nothing(
    stack: JobStack, db: Engine, jobs_app
) -> None:  # type: ignore[no-untyped-def]
    """J1: a failure after the outbox insert and before commit leaves no user, no job, no mail."""
    stack.start_worker()
    request = RegisterRequest(
        username=f"j1_{uuid.uuid4().hex[:10]}", password="password123", email="j1@example.com"
    )
    sessionmaker = create_sessionmaker(jobs_app.state.engine)
    registered: list[uuid.UUID] = []
    try:
        async with session_scope(sessionmaker) as session:
            registered.append((await auth_service.register(session, request)).id)
            assert (
                await session.scalar(
                    text("SELECT count(*) FROM outbox WHERE owner_id = :u"), {"u": registered[0]}
                )
                == 1
            )
            raise RuntimeError("injected crash before commit")
    except RuntimeError:
        pass
    (user_id,) = registered
    job_id = f"welcome_email:{user_id}"
    with db.connect() as conn:
        users = conn.execute(
            text("SELECT count(*) FROM users WHERE id = :u"), {"u": user_id}
        ).scalar()
        outbox = conn.execute(
            text("SELECT count(*) FROM outbox WHERE job_id = :j"), {"j": job_id}
        ).scalar()
    assert users == 0
    assert outbox == 0
    time.sleep(2)  # several relay periods: nothing may surface later either
    assert job_row(db, job_id) is None
    assert message_id(job_id) not in stack.message_ids()


def test_same_job_published_fifty_times_runs_once(stack: JobStack, db: Engine, settings) -> None:  # type: ignore[no-untyped-def]
    """J2: 50 deliveries of one job to 4 worker processes → one job_log row, one mail."""
    stack.start_worker(concurrency=4)
    user_id = make_committed_user(db, email="j2@example.com")
    job_id = f"welcome_email:{user_id}"
    celery = create_celery(settings.model_copy(update={"redis_broker": stack.redis.url}))
    for _ in range(50):
        publish(celery, job_id=job_id, name="auth.welcome_email", kwargs={"user_id": str(user_id)})
    wait_until(
        lambda: (job_row(db, job_id) or {}).get("status") == "succeeded", timeout=30, what="job"
    )
    wait_until(lambda: _queue_drained(stack), timeout=60, what="all 50 deliveries")
    row = job_row(db, job_id)
    assert row is not None
    assert row["attempts"] == 1
    assert stack.message_ids().count(message_id(job_id)) == 1
    assert len([m for m in stack.messages() if m["to"] == "j2@example.com"]) == 1


def test_worker_killed_before_commit_completes_once(stack: JobStack, db: Engine, settings) -> None:  # type: ignore[no-untyped-def]
    """J3: kill -9 of the worker child mid-job (before commit) → redelivered, the lease expires,
    another attempt takes over, and the job completes exactly once."""
    worker = stack.start_worker(overrides=KILLABLE)
    user_id = make_committed_user(db, email="j3@example.com")
    job_id = f"welcome_email:{user_id}"
    _publish(
        stack, settings, "tests.pause_before_commit", job_id, user_id=str(user_id), pause=PAUSE
    )
    wait_until(lambda: bool(marker_lines(stack, job_id, "pid")), timeout=30, what="job to start")
    victim = int(marker_lines(stack, job_id, "pid")[0])
    assert victim in stack.worker_children(worker)
    assert stack.message_ids().count(message_id(job_id)) == 0
    os.kill(victim, signal.SIGKILL)
    wait_until(
        lambda: (job_row(db, job_id) or {}).get("status") == "succeeded", timeout=45, what="job"
    )
    row = job_row(db, job_id)
    assert row is not None
    assert row["attempts"] == 2  # the dead attempt, then the takeover
    assert len(marker_lines(stack, job_id, "deliveries")) >= 2
    assert stack.message_ids().count(message_id(job_id)) == 1


def test_worker_killed_after_commit_does_not_run_again(
    stack: JobStack, db: Engine, settings
) -> None:  # type: ignore[no-untyped-def]
    """J4: kill -9 after the success committed but before the ack → the redelivered message
    finds the job succeeded and does nothing."""
    worker = stack.start_worker(overrides=KILLABLE)
    user_id = make_committed_user(db, email="j4@example.com")
    job_id = f"welcome_email:{user_id}"
    _publish(stack, settings, "tests.pause_after_commit", job_id, user_id=str(user_id), pause=PAUSE)
    wait_until(lambda: bool(marker_lines(stack, job_id, "pid")), timeout=30, what="job to commit")
    assert (job_row(db, job_id) or {}).get("status") == "succeeded"
    victim = int(marker_lines(stack, job_id, "pid")[0])
    assert victim in stack.worker_children(worker)
    os.kill(victim, signal.SIGKILL)
    wait_until(
        lambda: len(marker_lines(stack, job_id, "deliveries")) >= 2, timeout=30, what="redelivery"
    )
    wait_until(lambda: _queue_drained(stack), timeout=30, what="the redelivered message to finish")
    row = job_row(db, job_id)
    assert row is not None
    assert row["attempts"] == 1
    assert stack.message_ids().count(message_id(job_id)) == 1


def test_poison_job_stops_after_max_attempts(stack: JobStack, db: Engine, settings) -> None:  # type: ignore[no-untyped-def]
    """J6: a job whose process dies every time ends `failed` after JOB_MAX_ATTEMPTS (3 here)."""
    stack.start_worker(overrides=KILLABLE)
    user_id = make_committed_user(db, email=None)
    job_id = f"poison:{user_id}"
    _publish(stack, settings, "tests.poison", job_id, user_id=str(user_id))
    wait_until(
        lambda: (job_row(db, job_id) or {}).get("status") == "failed", timeout=60, what="failure"
    )
    row = job_row(db, job_id)
    assert row is not None
    assert row["attempts"] == 3
    assert "gave up after 3 attempts" in str(row["error"])
    deliveries = len(marker_lines(stack, job_id, "deliveries"))
    time.sleep(3)  # no endless loop: nothing runs once it has failed
    assert len(marker_lines(stack, job_id, "deliveries")) <= deliveries + 1


def test_failed_job_is_rerun_by_jobs_retry(stack: JobStack, db: Engine, settings) -> None:  # type: ignore[no-untyped-def]
    """A job that raised on every attempt is `failed` with its error; `taskhub jobs retry`
    gives it fresh attempts and it then succeeds once."""
    stack.start_worker()
    user_id = make_committed_user(db, email="retry@example.com")
    job_id = f"welcome_email:{user_id}"
    fail_flag = stack.markers / f"{job_id.replace(':', '_')}.fail"
    fail_flag.touch()
    with db.connect() as conn:  # an outbox row, as the API would have written
        conn.execute(
            text(
                "INSERT INTO outbox (job_id, name, kwargs, owner_id, published_at) VALUES (:j, 'tests.flaky_mail', CAST(:k AS jsonb), :o, now())"
            ),
            {"j": job_id, "k": f'{{"user_id": "{user_id}"}}', "o": user_id},
        )
    _publish(stack, settings, "tests.flaky_mail", job_id, user_id=str(user_id))
    wait_until(
        lambda: (job_row(db, job_id) or {}).get("status") == "failed", timeout=30, what="failure"
    )
    row = job_row(db, job_id)
    assert row is not None
    assert row["attempts"] == 3
    assert "RuntimeError: injected failure" in str(row["error"])
    assert stack.message_ids().count(message_id(job_id)) == 0

    fail_flag.unlink()
    cli = subprocess.run(
        [sys.executable, "-m", "app.cli", "jobs", "retry", job_id],
        env=stack.env,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    wait_until(
        lambda: (job_row(db, job_id) or {}).get("status") == "succeeded", timeout=30, what="re-run"
    )
    assert stack.message_ids().count(message_id(job_id)) == 1
    again = subprocess.run(
        [sys.executable, "-m", "app.cli", "jobs", "retry", job_id],
        env=stack.env,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 1
    assert "is not a failed job" in again.stderr
