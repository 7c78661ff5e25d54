from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class JobStatus(StrEnum):
    queued = "queued"  # in the outbox, not started yet
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class JobView(BaseModel):
    job_id: str
    name: str
    status: JobStatus
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    result: dict[str, Any] | None
    result_url: str | None = Field(description="Where to fetch the output, once succeeded")


class ExportAccepted(BaseModel):
    job_id: str
    status_url: str
