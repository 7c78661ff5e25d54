"""SIGTERM to a worker (a deploy or scale-in): warm shutdown finishes the running job first."""

from __future__ import annotations

import signal

from sqlalchemy.engine import Engine

from app.jobs.mail import message_id
from app.jobs.publisher import publish
from app.workers.celery_app import create_celery
from tests.jobs.conftest import job_row, make_committed_user, marker_lines
from tests.jobs.stack import JobStack, wait_until


def test_worker_finishes_its_job_on_sigterm(stack: JobStack, db: Engine, settings) -> None:  # type: ignore[no-untyped-def]
    worker = stack.start_worker(overrides={"JOB_LEASE_SECONDS": "8"})
    user_id = make_committed_user(db, email="sigterm@example.com")
    job_id = f"welcome_email:{user_id}"
    celery = create_celery(settings.model_copy(update={"redis_broker": stack.redis.url}))
    publish(
        celery,
        job_id=job_id,
        name="tests.pause_before_commit",
        kwargs={"user_id": str(user_id), "pause": 3},
    )
    wait_until(
        lambda: bool(marker_lines(stack, job_id, "pid")), timeout=30, what="the job to start"
    )
    worker.send_signal(signal.SIGTERM)  # warm shutdown: finish the job, then exit
    assert worker.wait(30) == 0
    row = job_row(db, job_id)
    assert row is not None
    assert row["status"] == "succeeded"
    assert row["attempts"] == 1
    assert len(marker_lines(stack, job_id, "deliveries")) == 1
    assert stack.message_ids().count(message_id(job_id)) == 1
