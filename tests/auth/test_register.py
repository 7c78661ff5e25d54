from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import make_user

PASSWORD = "a long enough password"


async def test_register_returns_the_created_user(client: AsyncClient) -> None:
    response = await client.post(
        "/auth/register",
        json={"username": "Register_Me", "password": PASSWORD, "email": "me@example.com"},
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "username", "email", "created_at"}
    uuid.UUID(body["id"])
    assert body["username"] == "Register_Me"
    assert body["email"] == "me@example.com"
    assert datetime.fromisoformat(body["created_at"]).utcoffset() is not None


@pytest.mark.parametrize("taken_as", ["Taken.Name", "taken.name", "TAKEN.NAME"])
async def test_register_refuses_a_username_taken_in_any_case(
    client: AsyncClient, session: AsyncSession, taken_as: str
) -> None:
    await make_user(session, username="Taken.Name")

    response = await client.post(
        "/auth/register", json={"username": taken_as, "password": PASSWORD}
    )

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 409


@pytest.mark.parametrize(
    "username",
    ["ab", "x" * 51, "has space", "semi;colon", "ünïcode", "new\nline", "nul\x00name"],
    ids=["too-short", "too-long", "space", "semicolon", "non-ascii", "newline", "nul"],
)
async def test_register_refuses_an_invalid_username(client: AsyncClient, username: str) -> None:
    response = await client.post(
        "/auth/register", json={"username": username, "password": PASSWORD}
    )

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["errors"]] == [["body", "username"]]


@pytest.mark.parametrize(
    "password", ["short", "x" * 129, "nul\x00 in the password"], ids=["short", "long", "nul"]
)
async def test_register_refuses_an_invalid_password(client: AsyncClient, password: str) -> None:
    response = await client.post(
        "/auth/register", json={"username": "valid_name", "password": password}
    )

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["errors"]] == [["body", "password"]]


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "two@@example.com", ""])
async def test_register_refuses_an_invalid_email(client: AsyncClient, email: str) -> None:
    response = await client.post(
        "/auth/register", json={"username": "valid_name", "password": PASSWORD, "email": email}
    )

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["errors"]] == [["body", "email"]]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("is_active", False),
        ("id", "5f0c6a8e-6d2b-4c1e-9a4f-2b7d9e1c3a55"),
        ("hashed_password", "x"),
    ],
    ids=["is_active", "id", "hashed_password"],
)
async def test_register_refuses_unknown_fields(
    client: AsyncClient, field: str, value: object
) -> None:
    response = await client.post(
        "/auth/register", json={"username": "valid_name", "password": PASSWORD, field: value}
    )

    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors == [
        {"loc": ["body", field], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
    ]


async def test_register_stores_an_argon2id_hash(client: AsyncClient, session: AsyncSession) -> None:
    response = await client.post(
        "/auth/register", json={"username": "hashed_user", "password": PASSWORD}
    )

    stored = await session.scalar(
        text("SELECT hashed_password FROM users WHERE id = :id"), {"id": response.json()["id"]}
    )
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


async def test_register_with_email_enqueues_the_welcome_email_in_the_same_transaction(
    client: AsyncClient, session: AsyncSession
) -> None:
    response = await client.post(
        "/auth/register",
        json={"username": "welcome_me", "password": PASSWORD, "email": "welcome@example.com"},
    )
    user_id = response.json()["id"]

    row = (
        await session.execute(
            text(
                "SELECT o.name, o.kwargs, o.owner_id, o.xmin::text AS outbox_xid, "
                "u.xmin::text AS user_xid FROM outbox o JOIN users u ON u.id = o.owner_id "
                "WHERE o.job_id = :job_id"
            ),
            {"job_id": f"welcome_email:{user_id}"},
        )
    ).one()
    assert row.name == "auth.welcome_email"
    assert row.kwargs == {"user_id": user_id}
    assert str(row.owner_id) == user_id
    # Rows written by one (sub)transaction carry its id in xmin: same id, same transaction.
    assert row.outbox_xid == row.user_xid


async def test_register_without_email_enqueues_nothing(
    client: AsyncClient, session: AsyncSession
) -> None:
    response = await client.post(
        "/auth/register", json={"username": "no_mail_user", "password": PASSWORD}
    )

    assert response.status_code == 201
    count = await session.scalar(
        text("SELECT count(*) FROM outbox WHERE owner_id = :id"), {"id": response.json()["id"]}
    )
    assert count == 0
