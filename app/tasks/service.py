"""Task rules: ownership, preconditions, idempotent creation, pages. SQL lives in the repository."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg
import orjson

from app.config import Settings
from app.errors import NotFound, PreconditionFailed, Unauthorized
from app.tasks import idempotency, repository
from app.tasks.etags import etag
from app.tasks.pagination import cursor_codec, fingerprint
from app.tasks.repository import TaskFilters, TaskRow
from app.tasks.schemas import TaskCreate, TaskUpdate


class TaskNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Task not found")


class OwnerInactive(Unauthorized):
    def __init__(self) -> None:
        super().__init__("User is inactive or deleted")


class StaleTask(PreconditionFailed):
    def __init__(self) -> None:
        super().__init__("The task has changed since the ETag in If-Match was issued")


@dataclass(frozen=True, slots=True)
class CreatedTask:
    response: idempotency.StoredResponse
    replayed: bool


async def _explain_miss(
    db: asyncpg.Connection, owner_id: uuid.UUID, task_id: uuid.UUID, *, had_precondition: bool
) -> Exception:
    """Why a statement scoped to (active owner, task) touched nothing: 401, 412 or 404."""
    if not await repository.owner_is_active(db, owner_id):
        return OwnerInactive()
    if had_precondition and await repository.get(db, owner_id, task_id) is not None:
        return StaleTask()
    return TaskNotFound()


async def create_task(
    db: asyncpg.Connection,
    settings: Settings,
    owner_id: uuid.UUID,
    body: TaskCreate,
    *,
    idempotency_key: str | None,
) -> CreatedTask:
    """Without a key, one INSERT that commits on its own. With one, the key's lock, the insert
    and the stored response commit together (app/tasks/idempotency.py)."""
    if idempotency_key is None:
        return CreatedTask(_created(await _insert(db, owner_id, body)), replayed=False)
    request_hash = idempotency.request_fingerprint(body.model_dump(mode="json"))
    async with db.transaction():
        stored = await idempotency.claim(
            db,
            user_id=owner_id,
            key=idempotency_key,
            fingerprint=request_hash,
            ttl_hours=settings.idempotency_ttl_hours,
        )
        if stored is not None:
            # A replay touches no task row, so it needs its own active-owner check (an insert
            # gets it from the join): a deactivated user's token must not replay a 201.
            if not await repository.owner_is_active(db, owner_id):
                raise OwnerInactive()
            return CreatedTask(stored, replayed=True)
        response = _created(await _insert(db, owner_id, body))
        await idempotency.store(
            db,
            user_id=owner_id,
            key=idempotency_key,
            fingerprint=request_hash,
            response=response,
        )
    return CreatedTask(response, replayed=False)


async def _insert(db: asyncpg.Connection, owner_id: uuid.UUID, body: TaskCreate) -> TaskRow:
    row = await repository.insert(db, owner_id, body.model_dump())
    if row is None:
        raise OwnerInactive()
    return row


def _created(row: TaskRow) -> idempotency.StoredResponse:
    return idempotency.StoredResponse(
        status_code=201,
        body=row.body,
        headers={"Location": f"/tasks/{row.id}", "ETag": etag(row.version)},
    )


async def get_task(db: asyncpg.Connection, owner_id: uuid.UUID, task_id: uuid.UUID) -> TaskRow:
    row = await repository.get(db, owner_id, task_id)
    if row is None:
        raise (
            OwnerInactive()
            if not await repository.owner_is_active(db, owner_id)
            else TaskNotFound()
        )
    return row


async def update_task(
    db: asyncpg.Connection,
    owner_id: uuid.UUID,
    task_id: uuid.UUID,
    body: TaskUpdate,
    *,
    if_match: list[int] | None,
) -> TaskRow:
    changes = body.changes()
    if not changes:  # an empty merge patch changes nothing and keeps the ETag
        row = await get_task(db, owner_id, task_id)
        if if_match is not None and row.version not in if_match:
            raise StaleTask()
        return row
    updated = await repository.update(db, owner_id, task_id, changes, expected_versions=if_match)
    if updated is None:
        raise await _explain_miss(db, owner_id, task_id, had_precondition=if_match is not None)
    return updated


async def delete_task(
    db: asyncpg.Connection, owner_id: uuid.UUID, task_id: uuid.UUID, *, if_match: list[int] | None
) -> None:
    if not await repository.delete(db, owner_id, task_id, expected_versions=if_match):
        raise await _explain_miss(db, owner_id, task_id, had_precondition=if_match is not None)


async def list_tasks(
    db: asyncpg.Connection,
    settings: Settings,
    owner_id: uuid.UUID,
    filters: TaskFilters,
    *,
    cursor: str | None,
    limit: int,
) -> bytes:
    """One page as JSON bytes: `{"items": [...], "meta": {...}}`, items rendered by PostgreSQL."""
    codec = cursor_codec(settings.jwt_secret)
    query_fingerprint = fingerprint(filters.fingerprint_fields())
    after = codec.decode(cursor, query_fingerprint) if cursor else None
    rows = await repository.list_page(db, owner_id, filters, after=after, limit=limit + 1)
    if not rows and not await repository.owner_is_active(db, owner_id):
        raise OwnerInactive()
    has_more = len(rows) > limit
    items = rows[:limit]
    next_cursor = None
    if has_more:
        last = items[-1]
        next_cursor = codec.encode(last.sort_key, last.id, query_fingerprint)
    meta = orjson.dumps({"limit": limit, "has_more": has_more, "next_cursor": next_cursor})
    return b'{"items":[' + ",".join(row.body for row in items).encode() + b'],"meta":' + meta + b"}"
