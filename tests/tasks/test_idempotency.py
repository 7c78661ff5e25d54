"""`Idempotency-Key` on POST /tasks: replays, conflicts, validation, and a real concurrent race."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import User
from tests.tasks.support import count_tasks, list_all, register_and_login

BODY = {"title": "Pay the invoice", "priority": 2, "tags": ["money"]}


async def test_retry_with_the_same_key_and_body_replays_the_first_response(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    headers = owner_headers | {"Idempotency-Key": "invoice-42"}
    first = await client.post("/tasks", json=BODY, headers=headers)

    retry = await client.post("/tasks", json=BODY, headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.content == first.content
    assert retry.headers["location"] == first.headers["location"]
    assert retry.headers["etag"] == first.headers["etag"]
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await count_tasks(session, owner.id) == 1


async def test_replay_survives_later_changes_to_the_task(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    headers = owner_headers | {"Idempotency-Key": "then-edited"}
    first = await client.post("/tasks", json=BODY, headers=headers)
    await client.patch(first.headers["location"], json={"priority": 0}, headers=owner_headers)

    retry = await client.post("/tasks", json=BODY, headers=headers)

    assert retry.status_code == 201
    assert retry.content == first.content


async def test_same_key_with_a_different_body_is_422(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    headers = owner_headers | {"Idempotency-Key": "invoice-43"}
    await client.post("/tasks", json=BODY, headers=headers)

    response = await client.post("/tasks", json=BODY | {"priority": 3}, headers=headers)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "idempotent-replayed" not in response.headers
    assert await count_tasks(session, owner.id) == 1


async def test_keys_are_scoped_per_user(
    client: AsyncClient,
    session: AsyncSession,
    owner: User,
    stranger: User,
    owner_headers: dict[str, str],
    stranger_headers: dict[str, str],
) -> None:
    mine = await client.post(
        "/tasks", json=BODY, headers=owner_headers | {"Idempotency-Key": "shared-key"}
    )
    theirs = await client.post(
        "/tasks", json=BODY, headers=stranger_headers | {"Idempotency-Key": "shared-key"}
    )

    assert mine.status_code == theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["id"] != mine.json()["id"]
    assert theirs.json()["owner"] == stranger.username
    assert await count_tasks(session, owner.id) == 1
    assert await count_tasks(session, stranger.id) == 1


async def test_different_keys_create_different_tasks(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    for key in ("first-key", "second-key"):
        response = await client.post(
            "/tasks", json=BODY, headers=owner_headers | {"Idempotency-Key": key}
        )
        assert response.status_code == 201

    assert await count_tasks(session, owner.id) == 2


async def test_expired_key_is_reused_for_a_new_task(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    headers = owner_headers | {"Idempotency-Key": "old-key"}
    first = await client.post("/tasks", json=BODY, headers=headers)
    await session.execute(
        text("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
    )

    again = await client.post("/tasks", json=BODY | {"priority": 0}, headers=headers)

    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    assert await count_tasks(session, owner.id) == 2


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"k" * 256, id="too_long"),
        pytest.param("cl\u00e9".encode(), id="non_ascii"),
        pytest.param("\u043a\u043b\u044e\u0447".encode(), id="cyrillic"),
        pytest.param(b"tab\tinside", id="control_character"),
    ],
)
async def test_invalid_key_is_400_and_creates_nothing(
    client: AsyncClient,
    session: AsyncSession,
    owner: User,
    owner_headers: dict[str, str],
    key: bytes,
) -> None:
    headers = {name.encode(): value.encode() for name, value in owner_headers.items()}

    response = await client.post("/tasks", json=BODY, headers=headers | {b"Idempotency-Key": key})

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert await count_tasks(session, owner.id) == 0


async def test_longest_allowed_key_works(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    headers = owner_headers | {"Idempotency-Key": "k" * 255}
    first = await client.post("/tasks", json=BODY, headers=headers)

    retry = await client.post("/tasks", json=BODY, headers=headers)

    assert first.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"


async def test_concurrent_requests_with_one_key_create_one_task(live_client: AsyncClient) -> None:
    headers = await register_and_login(live_client) | {"Idempotency-Key": str(uuid.uuid4())}

    first, second = await asyncio.gather(
        live_client.post("/tasks", json=BODY, headers=headers),
        live_client.post("/tasks", json=BODY, headers=headers),
    )

    created = [r for r in (first, second) if r.status_code == 201]
    originals = [r for r in created if "idempotent-replayed" not in r.headers]
    assert len(originals) == 1
    other = second if first is originals[0] else first
    if other.status_code == 201:
        assert other.headers["idempotent-replayed"] == "true"
        assert other.content == originals[0].content
    else:
        assert other.status_code == 409
        assert other.headers["content-type"] == "application/problem+json"
    tasks = await list_all(live_client, headers, {})
    assert [task["id"] for task in tasks] == [originals[0].json()["id"]]
