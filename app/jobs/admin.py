"""Operator actions on jobs (`taskhub jobs ...`)."""

from __future__ import annotations

from sqlalchemy import text

from app.jobs.relay import publish_pending
from app.workers.celery_app import worker_session


class JobNotRetryable(RuntimeError):
    pass


def retry_failed_job(job_id: str) -> None:
    """Give a failed job a fresh set of attempts and publish it again."""
    with worker_session() as session, session.begin():
        reset = session.execute(
            text(
                "UPDATE job_log SET status = 'running', attempts = 0, lease_expires_at = now(),"
                " finished_at = NULL WHERE job_id = :job_id AND status = 'failed' RETURNING job_id"
            ),
            {"job_id": job_id},
        ).scalar_one_or_none()
        if reset is None:
            raise JobNotRetryable(f"{job_id} is not a failed job")
        session.execute(
            text("UPDATE outbox SET done_at = NULL, published_at = NULL WHERE job_id = :job_id"),
            {"job_id": job_id},
        )
    publish_pending()
