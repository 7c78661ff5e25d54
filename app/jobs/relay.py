"""The outbox relay, run on beat: publishes what the API could not, and republishes what got lost.

One sweep takes, with FOR UPDATE SKIP LOCKED (so parallel sweeps split the work), every outbox
row that is not done, is due (`run_at`), and was either never published or published longer than
OUTBOX_REDELIVER_AFTER_SECONDS ago without reaching a terminal job_log state. The second case is the
reconciler: a message lost to a flushed or restarted Redis is published again. Publishing a job
twice is harmless: the job_log claim runs it once.
"""

from __future__ import annotations

import logging

from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import text

from app.config import get_settings
from app.jobs.publisher import publish
from app.workers.celery_app import celery_app, worker_session

logger = logging.getLogger(__name__)
SWEEP_BATCH = 500


def publish_pending(limit: int = SWEEP_BATCH) -> int:
    """Publish one batch of pending outbox rows; returns how many were published."""
    settings = get_settings()
    published = 0
    with worker_session() as session, session.begin():
        rows = session.execute(
            text(
                "SELECT id, job_id, name, kwargs FROM outbox"
                " WHERE done_at IS NULL AND run_at <= now()"
                " AND (published_at IS NULL"
                "      OR published_at < now() - make_interval(secs => :redeliver_after))"
                " ORDER BY run_at LIMIT :limit FOR UPDATE SKIP LOCKED"
            ),
            {"redeliver_after": settings.outbox_redeliver_after_seconds, "limit": limit},
        ).all()
        for row in rows:
            try:
                publish(celery_app, job_id=row.job_id, name=row.name, kwargs=row.kwargs)
            except BrokerError as exc:
                logger.warning("relay could not publish %s: %s", row.job_id, exc)
                break
            published += 1
        if published:
            session.execute(
                text(
                    "UPDATE outbox SET published_at = now(), publish_count = publish_count + 1"
                    " WHERE id = ANY(:ids)"
                ),
                {"ids": [row.id for row in rows[:published]]},
            )
    return published


@celery_app.task(name="jobs.relay_outbox")
def relay_outbox() -> int:
    return publish_pending()
