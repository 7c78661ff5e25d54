"""SQL about jobs, as the API sees them (the worker side is in runner.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class JobRow:
    job_id: str
    name: str
    status: str | None  # None: still in the outbox
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    result: dict[str, Any] | None


async def get_owned_job(session: AsyncSession, owner_id: uuid.UUID, job_id: str) -> JobRow | None:
    row = (
        await session.execute(
            text(
                "SELECT o.job_id, o.name, j.status, coalesce(j.attempts, 0) AS attempts, o.created_at,"
                " j.started_at, j.finished_at, j.error, j.result"
                " FROM outbox o LEFT JOIN job_log j ON j.job_id = o.job_id"
                " WHERE o.job_id = :job_id AND o.owner_id = :owner_id"
            ),
            {"job_id": job_id, "owner_id": owner_id},
        )
    ).first()
    return JobRow(**row._asdict()) if row else None


async def get_artifact(session: AsyncSession, job_id: str) -> bytes | None:
    content = await session.scalar(
        text("SELECT content FROM job_artifacts WHERE job_id = :job_id"), {"job_id": job_id}
    )
    return bytes(content) if content is not None else None
