"""The transactional outbox: a job is enqueued by writing a row in the caller's transaction.

The row commits or rolls back with the change that caused it, so a rolled-back change never
publishes a job and a committed one always does: the API publishes right after the commit (best
effort, in the background, never delaying or failing the request), and the relay publishes
whatever that missed (app/jobs/relay.py).
"""

from __future__ import annotations

import asyncio
import contextlib
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
    """Publishes committed requests' outbox messages from one background task.

    Requests only put messages on an in-memory queue, so a slow or absent Redis never delays
    them. The task publishes in batches (in a thread: the Celery client blocks) and marks each
    batch published with one UPDATE. What it cannot publish, or loses at shutdown, is still in
    the outbox, unpublished, for the relay.
    """

    def __init__(self, celery: Celery, engine: AsyncEngine, *, batch_size: int = 500) -> None:
        self._celery = celery
        self._engine = engine
        self._batch_size = batch_size
        self._queue: asyncio.Queue[OutboxMessage] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-publisher")

    def publish_committed(self, session: AsyncSession) -> None:
        for message in session.info.pop(_PENDING, ()):
            self._queue.put_nowait(message)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            published = await asyncio.to_thread(self._publish_batch, batch)
            if published:
                await self._mark_published(published)

    def _publish_batch(self, batch: list[OutboxMessage]) -> list[str]:
        published: list[str] = []
        for message in batch:
            try:
                publish(
                    self._celery, job_id=message.job_id, name=message.name, kwargs=message.kwargs
                )
            except Exception as exc:  # the relay publishes the rest later
                logger.warning(
                    "broker unavailable, %d jobs left to the relay: %s",
                    len(batch) - len(published),
                    exc,
                )
                break
            published.append(message.job_id)
        return published

    async def _mark_published(self, job_ids: list[str]) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    text(
                        "UPDATE outbox SET published_at = now(), publish_count = publish_count + 1"
                        " WHERE job_id = ANY(:job_ids)"
                    ),
                    {"job_ids": job_ids},
                )
        except Exception as exc:  # unmarked rows are published again by the relay: harmless
            logger.warning("could not mark outbox rows published: %s", exc)

    async def stop(self, timeout: float = 5.0) -> None:
        """Give queued messages a moment to go out, then stop (the relay covers the rest)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._queue.empty() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
