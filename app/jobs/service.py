"""Jobs as the API offers them: start an export, look at a job, fetch its output."""

from __future__ import annotations

import csv
import gzip
import io
import uuid
from collections.abc import Iterator

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, NotFound
from app.jobs import names, outbox, repository
from app.jobs.schemas import JobStatus, JobView

EXPORT_CSV_COLUMNS = (
    "id", "title", "description", "status", "priority", "due_at", "tags",
    "owner", "created_at", "updated_at", "completed_at",
)  # fmt: skip


class JobNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Job not found")


class JobNotFinished(Conflict):
    def __init__(self, status: JobStatus) -> None:
        super().__init__(f"The job is {status.value}; its result is not available")


async def start_export(session: AsyncSession, user_id: uuid.UUID, request_id: str) -> str:
    job_id = names.export_id(user_id, request_id)
    await outbox.enqueue(
        session,
        job_id=job_id,
        name=names.EXPORT,
        kwargs={"user_id": str(user_id)},
        owner_id=user_id,
    )
    return job_id


async def get_job(session: AsyncSession, user_id: uuid.UUID, job_id: str) -> JobView:
    row = await repository.get_owned_job(session, user_id, job_id)
    if row is None:
        raise JobNotFound()
    status = JobStatus(row.status) if row.status else JobStatus.queued
    has_output = status is JobStatus.succeeded and row.name == names.EXPORT
    return JobView(
        job_id=row.job_id,
        name=row.name,
        status=status,
        attempts=row.attempts,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        error=row.error,
        result=row.result,
        result_url=f"/jobs/{row.job_id}/result" if has_output else None,
    )


async def get_export(session: AsyncSession, user_id: uuid.UUID, job_id: str) -> bytes:
    """The compressed JSON Lines of a finished export (409 while it is not finished)."""
    job = await get_job(session, user_id, job_id)
    if job.status is not JobStatus.succeeded:
        raise JobNotFinished(job.status)
    content = await repository.get_artifact(session, job_id)
    if content is None:
        raise JobNotFound()
    return content


def jsonl_lines(content: bytes) -> Iterator[bytes]:
    with gzip.GzipFile(fileobj=io.BytesIO(content)) as archive:
        yield from archive


def csv_lines(content: bytes) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_CSV_COLUMNS)
    for line in jsonl_lines(content):
        task = orjson.loads(line)
        task["tags"] = ";".join(task["tags"])
        writer.writerow(
            ["" if task[column] is None else task[column] for column in EXPORT_CSV_COLUMNS]
        )
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue().encode()
