"""Broken object-level authorisation: another user's task is indistinguishable from a missing one."""

from __future__ import annotations

import uuid

from httpx import AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import User
from tests.factories import make_task
from tests.tasks.support import create_task, list_all


async def _missing(client: AsyncClient, method: str, headers: dict[str, str]) -> Response:
    return await client.request(
        method,
        f"/tasks/{uuid.uuid4()}",
        json={"title": "Hijacked"} if method == "PATCH" else None,
        headers=headers,
    )


async def test_unknown_task_is_404_problem(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    response = await _missing(client, "GET", owner_headers)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "Task not found",
    }


async def test_stranger_get_is_404_like_a_missing_task(
    client: AsyncClient, owner_headers: dict[str, str], stranger_headers: dict[str, str]
) -> None:
    created = await create_task(client, owner_headers)

    response = await client.get(created.headers["location"], headers=stranger_headers)

    assert response.status_code == 404
    assert response.json() == (await _missing(client, "GET", stranger_headers)).json()
    assert "etag" not in response.headers


async def test_stranger_patch_is_404_and_changes_nothing(
    client: AsyncClient, owner_headers: dict[str, str], stranger_headers: dict[str, str]
) -> None:
    created = await create_task(client, owner_headers)

    response = await client.patch(
        created.headers["location"], json={"title": "Hijacked"}, headers=stranger_headers
    )

    assert response.status_code == 404
    assert response.json() == (await _missing(client, "PATCH", stranger_headers)).json()
    after = await client.get(created.headers["location"], headers=owner_headers)
    assert after.json() == created.json()
    assert after.headers["etag"] == created.headers["etag"]


async def test_stranger_patch_with_the_right_if_match_is_404_not_412(
    client: AsyncClient, owner_headers: dict[str, str], stranger_headers: dict[str, str]
) -> None:
    created = await create_task(client, owner_headers)

    for etag in (created.headers["etag"], '"99"'):
        response = await client.patch(
            created.headers["location"],
            json={"title": "Hijacked"},
            headers=stranger_headers | {"If-Match": etag},
        )
        assert response.status_code == 404, etag


async def test_stranger_empty_patch_is_404(
    client: AsyncClient, owner_headers: dict[str, str], stranger_headers: dict[str, str]
) -> None:
    created = await create_task(client, owner_headers)

    response = await client.patch(created.headers["location"], json={}, headers=stranger_headers)

    assert response.status_code == 404


async def test_stranger_delete_is_404_and_the_task_survives(
    client: AsyncClient, owner_headers: dict[str, str], stranger_headers: dict[str, str]
) -> None:
    created = await create_task(client, owner_headers)

    response = await client.delete(created.headers["location"], headers=stranger_headers)

    assert response.status_code == 404
    assert response.json() == (await _missing(client, "DELETE", stranger_headers)).json()
    after = await client.get(created.headers["location"], headers=owner_headers)
    assert after.status_code == 200
    assert after.json() == created.json()


async def test_stranger_if_none_match_is_404_not_304(
    client: AsyncClient, owner_headers: dict[str, str], stranger_headers: dict[str, str]
) -> None:
    created = await create_task(client, owner_headers)

    response = await client.get(
        created.headers["location"], headers=stranger_headers | {"If-None-Match": "*"}
    )

    assert response.status_code == 404


async def test_list_never_contains_another_users_tasks(
    client: AsyncClient,
    session: AsyncSession,
    owner: User,
    stranger: User,
    stranger_headers: dict[str, str],
) -> None:
    for i in range(5):
        await make_task(session, owner=owner, title=f"Owner task {i}", tags=["shared"])
    own = await make_task(session, owner=stranger, title="Stranger task", tags=["shared"])

    for params in ({}, {"tag": "shared"}, {"q": "task"}, {"sort": "due_at"}, {"limit": 1}):
        items = await list_all(client, stranger_headers, params)
        assert [item["id"] for item in items] == [str(own.id)], params
