"""Typed helpers shared by the tasks tests: API shortcuts, bulk inserts and a reference model of
the list endpoint (what it should return, computed in Python) for the pagination tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Task

FAR_FUTURE = datetime.max.replace(tzinfo=UTC)
FAR_PAST = datetime.min.replace(tzinfo=UTC)


#: Every field of TaskResponse (SPEC §4).
TASK_FIELDS = {
    "id",
    "title",
    "description",
    "status",
    "priority",
    "due_at",
    "tags",
    "owner",
    "created_at",
    "updated_at",
    "completed_at",
}


async def create_task(client: AsyncClient, headers: Mapping[str, str], **fields: Any) -> Response:
    """POST /tasks with a valid title unless `fields` gives one; asserts the 201."""
    response = await client.post(
        "/tasks", json={"title": "Write the tests", **fields}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response


async def count_tasks(session: AsyncSession, owner_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.count()).select_from(Task).where(Task.owner_id == owner_id)
    )
    return int(total or 0)


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


async def list_all(
    client: AsyncClient, headers: Mapping[str, str], params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Every item of a listing, following `meta.next_cursor` to the last page. Fails at the first
    repeated task, so a cursor that does not advance cannot loop."""
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    cursor: str | None = None
    for _ in range(10_000):
        query = dict(params) | ({"cursor": cursor} if cursor else {})
        response = await client.get("/tasks", params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        for item in page["items"]:
            assert item["id"] not in seen, f"task {item['id']} was returned twice"
            seen.add(item["id"])
        items.extend(page["items"])
        cursor = page["meta"]["next_cursor"]
        assert page["meta"]["has_more"] is (cursor is not None)
        if cursor is None:
            return items
    raise AssertionError("the cursors never reached a last page")


async def register_and_login(client: AsyncClient) -> dict[str, str]:
    """A fresh, uniquely named user created through the API (for `live_client` tests)."""
    username = f"live_{uuid.uuid4().hex[:12]}"
    password = "correct horse battery"
    registered = await client.post(
        "/auth/register", json={"username": username, "password": password}
    )
    assert registered.status_code == 201, registered.text
    login = await client.post("/auth/login", data={"username": username, "password": password})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One task as the pagination tests insert it, and as the reference model sees it."""

    created_at: datetime
    updated_at: datetime
    due_at: datetime | None = None
    priority: int = 0
    status: str = "todo"
    tags: tuple[str, ...] = ()
    title: str = "Task title"
    description: str = ""
    id: uuid.UUID = field(default_factory=uuid.uuid4)

    def row(self, owner_id: uuid.UUID) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner_id": owner_id,
            "title": self.title,
            "description": self.description,
            "status": self.status,
            "priority": self.priority,
            "due_at": self.due_at,
            "tags": list(self.tags),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


async def insert_tasks(
    session: AsyncSession, owner_id: uuid.UUID, specs: Iterable[TaskSpec]
) -> None:
    rows = [spec.row(owner_id) for spec in specs]
    if rows:
        await session.execute(insert(Task), rows)


def matches(spec: TaskSpec, params: Mapping[str, Any]) -> bool:
    """Whether GET /tasks with these filters should return the task."""
    statuses: Sequence[str] | None = params.get("status")
    priorities: Sequence[int] | None = params.get("priority")
    if statuses and spec.status not in statuses:
        return False
    if priorities and spec.priority not in priorities:
        return False
    if "tag" in params and params["tag"] not in spec.tags:
        return False
    if "due_before" in params and not (
        spec.due_at is not None and spec.due_at < datetime.fromisoformat(params["due_before"])
    ):
        return False
    if "due_after" in params and not (
        spec.due_at is not None and spec.due_at >= datetime.fromisoformat(params["due_after"])
    ):
        return False
    if "q" in params:
        needle = params["q"].lower()
        return needle in spec.title.lower() or needle in spec.description.lower()
    return True


def sort_key(spec: TaskSpec, sort: str) -> tuple[Any, uuid.UUID]:
    """The (key, id) pair the sort orders by; tasks without a due date come last both ways."""
    if sort in ("-created_at", "created_at"):
        return spec.created_at, spec.id
    if sort == "due_at":
        return spec.due_at or FAR_FUTURE, spec.id
    if sort == "-due_at":
        return spec.due_at or FAR_PAST, spec.id
    if sort == "-priority":
        return spec.priority, spec.id
    if sort == "-updated_at":
        return spec.updated_at, spec.id
    raise ValueError(sort)


def expected_ids(specs: Iterable[TaskSpec], params: Mapping[str, Any]) -> list[uuid.UUID]:
    """The ids GET /tasks should return, in order, over all pages."""
    sort = params.get("sort", "-created_at")
    chosen = [spec for spec in specs if matches(spec, params)]
    chosen.sort(key=lambda spec: sort_key(spec, sort), reverse=sort.startswith("-"))
    return [spec.id for spec in chosen]
