"""A deactivated user's still-valid access token stops working on every task endpoint."""

from __future__ import annotations

import uuid

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Task, User
from tests.factories import make_task
from tests.tasks.support import count_tasks


async def _deactivate(session: AsyncSession, user: User) -> None:
    await session.execute(
        text("UPDATE users SET is_active = false WHERE id = :id"), {"id": user.id}
    )


def _assert_unauthorized(response: Response) -> None:
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.fixture
async def task(session: AsyncSession, owner: User) -> Task:
    return await make_task(session, owner=owner, title="Before deactivation")


async def test_inactive_owner_cannot_list(
    client: AsyncClient,
    session: AsyncSession,
    owner: User,
    owner_headers: dict[str, str],
    task: Task,
) -> None:
    await _deactivate(session, owner)

    _assert_unauthorized(await client.get("/tasks", headers=owner_headers))


async def test_inactive_owner_cannot_list_with_a_cursor(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    for i in range(3):
        await make_task(session, owner=owner, title=f"Task {i}")
    first = await client.get("/tasks", params={"limit": 1}, headers=owner_headers)
    await _deactivate(session, owner)

    response = await client.get(
        "/tasks",
        params={"limit": 1, "cursor": first.json()["meta"]["next_cursor"]},
        headers=owner_headers,
    )

    _assert_unauthorized(response)


async def test_inactive_owner_cannot_get(
    client: AsyncClient,
    session: AsyncSession,
    owner: User,
    owner_headers: dict[str, str],
    task: Task,
) -> None:
    await _deactivate(session, owner)

    _assert_unauthorized(await client.get(f"/tasks/{task.id}", headers=owner_headers))


async def test_inactive_owner_get_of_a_missing_task_is_401(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    await _deactivate(session, owner)

    _assert_unauthorized(await client.get(f"/tasks/{uuid.uuid4()}", headers=owner_headers))


async def test_inactive_owner_cannot_create(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    await _deactivate(session, owner)

    response = await client.post("/tasks", json={"title": "After"}, headers=owner_headers)

    _assert_unauthorized(response)
    assert await count_tasks(session, owner.id) == 0


async def test_inactive_owner_gets_no_idempotent_replay(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    headers = owner_headers | {"Idempotency-Key": "before-deactivation"}
    first = await client.post("/tasks", json={"title": "Before"}, headers=headers)
    assert first.status_code == 201
    await _deactivate(session, owner)

    retry = await client.post("/tasks", json={"title": "Before"}, headers=headers)

    _assert_unauthorized(retry)
    assert "idempotent-replayed" not in retry.headers


async def test_inactive_owner_cannot_patch(
    client: AsyncClient,
    session: AsyncSession,
    owner: User,
    owner_headers: dict[str, str],
    task: Task,
) -> None:
    await _deactivate(session, owner)

    response = await client.patch(
        f"/tasks/{task.id}", json={"title": "After"}, headers=owner_headers
    )

    _assert_unauthorized(response)
    title = await session.scalar(text("SELECT title FROM tasks WHERE id = :id"), {"id": task.id})
    assert title == "Before deactivation"


async def test_inactive_owner_cannot_patch_with_if_match(
    client: AsyncClient,
    session: AsyncSession,
    owner: User,
    owner_headers: dict[str, str],
    task: Task,
) -> None:
    await _deactivate(session, owner)

    response = await client.patch(
        f"/tasks/{task.id}", json={"title": "After"}, headers=owner_headers | {"If-Match": '"1"'}
    )

    _assert_unauthorized(response)


async def test_inactive_owner_cannot_send_an_empty_patch(
    client: AsyncClient,
    session: AsyncSession,
    owner: User,
    owner_headers: dict[str, str],
    task: Task,
) -> None:
    await _deactivate(session, owner)

    _assert_unauthorized(await client.patch(f"/tasks/{task.id}", json={}, headers=owner_headers))


async def test_inactive_owner_cannot_delete(
    client: AsyncClient,
    session: AsyncSession,
    owner: User,
    owner_headers: dict[str, str],
    task: Task,
) -> None:
    await _deactivate(session, owner)

    response = await client.delete(f"/tasks/{task.id}", headers=owner_headers)

    _assert_unauthorized(response)
    assert await count_tasks(session, owner.id) == 1


async def test_deleted_owner_token_is_401(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    await session.execute(text("DELETE FROM users WHERE id = :id"), {"id": owner.id})

    _assert_unauthorized(await client.get("/tasks", headers=owner_headers))
    _assert_unauthorized(
        await client.post("/tasks", json={"title": "Ghost"}, headers=owner_headers)
    )
