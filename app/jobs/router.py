from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import StreamingResponse

from app.auth.deps import CurrentUser
from app.db import SessionDep
from app.errors import problem_responses
from app.jobs import service
from app.jobs.schemas import ExportAccepted, JobView
from app.middleware import request_id_var

router = APIRouter(tags=["jobs"], responses=problem_responses(401, 422))


@router.post(
    "/tasks/export",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Export your tasks",
    responses=problem_responses(413),
)
async def start_export(
    session: SessionDep, user: CurrentUser, response: Response
) -> ExportAccepted:
    """Start a background export of all your tasks. Poll `status_url`; when the job has
    succeeded, fetch `/jobs/{job_id}/result` (JSON Lines, or CSV with `?format=csv`). Retrying
    with the same `X-Request-ID` returns the same job."""
    job_id = await service.start_export(session, user.id, request_id_var.get())
    status_url = f"/jobs/{job_id}"
    response.headers["Location"] = status_url
    return ExportAccepted(job_id=job_id, status_url=status_url)


@router.get("/jobs/{job_id}", summary="A job's status", responses=problem_responses(404))
async def get_job(job_id: str, session: SessionDep, user: CurrentUser) -> JobView:
    """Status, attempts, timestamps, error and result of one of your jobs."""
    return await service.get_job(session, user.id, job_id)


@router.get(
    "/jobs/{job_id}/result",
    summary="An export's output",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/x-ndjson": {}, "text/csv": {}}, "description": "The tasks"},
        **problem_responses(404, 409),
    },
)
async def get_job_result(
    job_id: str,
    session: SessionDep,
    user: CurrentUser,
    format: Annotated[Literal["jsonl", "csv"], Query(description="Output format")] = "jsonl",
) -> StreamingResponse:
    """The exported tasks, streamed. 409 while the job has not succeeded."""
    content = await service.get_export(session, user.id, job_id)
    if format == "csv":
        return StreamingResponse(service.csv_lines(content), media_type="text/csv")
    return StreamingResponse(service.jsonl_lines(content), media_type="application/x-ndjson")
