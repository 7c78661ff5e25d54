from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response, status

from app.auth.deps import CurrentUserId
from app.config import Settings
from app.db import tasks_connection
from app.errors import problem_responses
from app.kit.query import QueryString
from app.tasks import idempotency, service
from app.tasks.etags import etag, none_match, parse_if_match
from app.tasks.repository import TaskFilters
from app.tasks.schemas import (
    TaskCreate,
    TaskListQuery,
    TaskPage,
    TaskResponse,
    TaskUpdate,
)

router = APIRouter(prefix="/tasks", tags=["tasks"], responses=problem_responses(401, 422))

JSON = "application/json"


def _settings(request: Request) -> Settings:
    """The app's settings, read directly rather than through `SettingsDep`: on these hot
    endpoints each dependency FastAPI resolves is a measurable share of the request."""
    settings: Settings = request.app.state.settings
    return settings


IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Retry-safe creation: replays the first response"),
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a task",
    response_model=TaskResponse,
    responses=problem_responses(400, 409, 413),
)
async def create_task(
    body: TaskCreate,
    request: Request,
    user_id: CurrentUserId,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a task owned by the caller. With an `Idempotency-Key`, a retry with the same body
    replays the first response (`Idempotent-Replayed: true`) and creates nothing."""
    key = idempotency.validate_key(idempotency_key) if idempotency_key is not None else None
    settings = _settings(request)
    async with tasks_connection(request) as db:
        created = await service.create_task(db, settings, user_id, body, idempotency_key=key)
    headers = dict(created.response.headers)
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        created.response.body,
        status_code=created.response.status_code,
        headers=headers,
        media_type=JSON,
    )


list_query = QueryString(TaskListQuery)


@router.get(
    "",
    summary="List tasks",
    response_model=TaskPage,
    responses=problem_responses(400),
    openapi_extra={"parameters": list_query.openapi_parameters()},
)
async def list_tasks(
    request: Request,
    user_id: CurrentUserId,
    query: Annotated[TaskListQuery, Depends(list_query)],
) -> Response:
    """The caller's tasks, one page at a time (keyset pagination). A cursor only works with the
    filters and sort it was issued for."""
    filters = TaskFilters(
        statuses=[s.value for s in query.status] if query.status else None,
        priorities=query.priority,
        tag=query.tag,
        due_before=query.due_before,
        due_after=query.due_after,
        q=query.q,
        sort=query.sort,
    )
    settings = _settings(request)
    async with tasks_connection(request) as db:
        page = await service.list_tasks(
            db, settings, user_id, filters, cursor=query.cursor, limit=query.limit
        )
    return Response(page, media_type=JSON)


@router.get(
    "/{task_id}",
    summary="Get a task",
    response_model=TaskResponse,
    responses={304: {"description": "Not modified"}, **problem_responses(404)},
)
async def get_task(
    task_id: uuid.UUID,
    request: Request,
    user_id: CurrentUserId,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """One of the caller's tasks, with its `ETag`. `If-None-Match` with that ETag gives 304."""
    async with tasks_connection(request) as db:
        row = await service.get_task(db, user_id, task_id)
    headers = {"ETag": etag(row.version)}
    if none_match(if_none_match, row.version):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(row.body, headers=headers, media_type=JSON)


@router.patch(
    "/{task_id}",
    summary="Update a task",
    response_model=TaskResponse,
    responses=problem_responses(404, 412),
)
async def update_task(
    task_id: uuid.UUID,
    body: TaskUpdate,
    request: Request,
    user_id: CurrentUserId,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Change the fields sent. With `If-Match`, only if the task is still at that ETag (else 412).
    Setting `status` to `done` stamps `completed_at`."""
    expected = parse_if_match(if_match)
    async with tasks_connection(request) as db:
        row = await service.update_task(db, user_id, task_id, body, if_match=expected)
    return Response(row.body, headers={"ETag": etag(row.version)}, media_type=JSON)


@router.delete(
    "/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a task",
    responses=problem_responses(404, 412),
)
async def delete_task(
    task_id: uuid.UUID,
    request: Request,
    user_id: CurrentUserId,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Delete one of the caller's tasks (with `If-Match`, only if unchanged)."""
    expected = parse_if_match(if_match)
    async with tasks_connection(request) as db:
        await service.delete_task(db, user_id, task_id, if_match=expected)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
