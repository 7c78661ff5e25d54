"""The transactional outbox: a job is enqueued by writing a row in the caller's transaction.

The row commits or rolls back with the change that caused it, so a rolled-back change never
publishes a job and a committed one always does: the API publishes right after the commit (best
effort, in the background, never delaying or failing the request), and the relay publishes
whatever that missed (app/jobs/relay.py).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery import Celery
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.jobs.publisher import publish
from app.models import OutboxEntry

logger = logging.getLogger(__name__)

_PENDING = "outbox_pending"


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    job_id: str
    name: str
    kwargs: dict[str, Any]


async def enqueue(
    session: AsyncSession,
    *,
    job_id: str,
    name: str,
    kwargs: dict[str, Any],
    owner_id: uuid.UUID | None = None,
    run_at: datetime | None = None,
) -> None:
    """Write the outbox row for `job_id` (enqueueing the same job twice keeps one row). A job due
    now is also published right after the transaction commits."""
    values: dict[str, Any] = {
        "job_id": job_id,
        "name": name,
        "kwargs": kwargs,
        "owner_id": owner_id,
    }
    if run_at is not None:
        values["run_at"] = run_at
    await session.execute(insert(OutboxEntry).values(**values).on_conflict_do_nothing())
    if run_at is None:
        session.info.setdefault(_PENDING, []).append(OutboxMessage(job_id, name, kwargs))


class OutboxPublisher:
    """Publishes a committed request's outbox messages in a background task."""

    def __init__(self, celery: Celery, engine: AsyncEngine) -> None:
        self._celery = celery
        self._engine = engine
        self._tasks: set[asyncio.Task[None]] = set()

    def publish_committed(self, session: AsyncSession) -> None:
        messages: list[OutboxMessage] | None = session.info.pop(_PENDING, None)
        if messages:
            task = asyncio.create_task(self._publish(messages))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _publish(self, messages: list[OutboxMessage]) -> None:
        published = []
        for message in messages:
            try:
                await asyncio.to_thread(
                    publish,
                    self._celery,
                    job_id=message.job_id,
                    name=message.name,
                    kwargs=message.kwargs,
                )
            except Exception as exc:  # the relay publishes it later; never fail the request
                logger.warning("publish deferred to the relay: %s (%s)", message.job_id, exc)
                break
            published.append(message.job_id)
        if not published:
            return
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    text(
                        "UPDATE outbox SET published_at = now(), publish_count = publish_count + 1"
                        " WHERE job_id = ANY(:job_ids)"
                    ),
                    {"job_ids": published},
                )
        except Exception as exc:  # unmarked rows are published again by the relay: harmless
            logger.warning("could not mark outbox rows published: %s", exc)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait for in-flight publications (at shutdown)."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=timeout)
