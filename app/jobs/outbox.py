"""The transactional outbox: a job is enqueued by writing a row in the caller's transaction.

The row commits or rolls back with the change that caused it, so a rolled-back change never
publishes a job, and a committed one always does eventually (the relay publishes leftovers).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import OutboxEntry


async def enqueue(
    session: AsyncSession,
    *,
    job_id: str,
    name: str,
    kwargs: dict[str, Any],
    owner_id: uuid.UUID | None = None,
    run_at: datetime | None = None,
) -> None:
    """Write the outbox row for `job_id`; enqueueing the same job twice keeps one row."""
    values: dict[str, Any] = {
        "job_id": job_id,
        "name": name,
        "kwargs": kwargs,
        "owner_id": owner_id,
    }
    if run_at is not None:
        values["run_at"] = run_at
    await session.execute(insert(OutboxEntry).values(**values).on_conflict_do_nothing())
