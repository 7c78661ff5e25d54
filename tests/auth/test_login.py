from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from httpx import AsyncClient
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import passwords
from app.config import Settings
from tests.auth.conftest import login
from tests.factories import DEFAULT_PASSWORD, make_user


async def test_login_returns_a_bearer_token_pair(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(session)

    response = await login(client, user.username, DEFAULT_PASSWORD)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.jwt_expire_minutes * 60
    assert body["access_token"] != body["refresh_token"]


async def test_login_access_token_identifies_the_user(
    client: AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    tokens = (await login(client, user.username, DEFAULT_PASSWORD)).json()

    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})

    assert me.status_code == 200
    assert me.json()["id"] == str(user.id)


async def test_login_username_is_case_insensitive(
    client: AsyncClient, session: AsyncSession
) -> None:
    await make_user(session, username="Mixed.Case")

    response = await login(client, "mIXED.cASE", DEFAULT_PASSWORD)

    assert response.status_code == 200


async def test_login_unknown_user_and_wrong_password_are_indistinguishable(
    client: AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)

    wrong_password = await login(client, user.username, "not the password")
    unknown_user = await login(client, "nobody_by_that_name", "not the password")

    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.content == unknown_user.content
    assert wrong_password.headers["www-authenticate"] == "Bearer"
    assert unknown_user.headers["www-authenticate"] == "Bearer"
    assert unknown_user.headers["content-type"] == "application/problem+json"


async def test_login_refuses_an_inactive_user(client: AsyncClient, session: AsyncSession) -> None:
    user = await make_user(session, is_active=False)

    response = await login(client, user.username, DEFAULT_PASSWORD)
    unknown = await login(client, "nobody_by_that_name", DEFAULT_PASSWORD)

    assert response.status_code == 401
    assert response.content == unknown.content


@pytest.mark.parametrize(
    "username",
    ["nul\x00byte", "x" * 5000, "bad name!"],
    ids=["nul", "very-long", "invalid-characters"],
)
async def test_login_with_an_impossible_username_is_an_ordinary_failure(
    client: AsyncClient, username: str
) -> None:
    response = await login(client, username, DEFAULT_PASSWORD)
    unknown = await login(client, "nobody_by_that_name", DEFAULT_PASSWORD)

    assert response.status_code == 401
    assert response.content == unknown.content


async def test_login_requires_a_password(client: AsyncClient) -> None:
    response = await client.post("/auth/login", data={"username": "someone"})

    assert response.status_code == 422
    assert ["body", "password"] in [error["loc"] for error in response.json()["errors"]]


async def test_login_refuses_a_json_body(client: AsyncClient, session: AsyncSession) -> None:
    user = await make_user(session)

    response = await client.post(
        "/auth/login", json={"username": user.username, "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 422


async def test_a_hash_from_an_earlier_profile_is_replaced_at_login(
    client: AsyncClient, session: AsyncSession
) -> None:
    """Stored hashes keep their own parameters; a successful login moves one to the current
    profile (a change to the row, so `updated_at` moves too), and a failed one leaves it alone."""
    user = await make_user(session)
    earlier = Argon2Hasher(memory_cost=2048, time_cost=2, parallelism=1).hash(DEFAULT_PASSWORD)
    last_changed = datetime.now(UTC) - timedelta(days=1)
    user.hashed_password, user.updated_at = earlier, last_changed
    await session.flush()

    wrong = await login(client, user.username, "not the password")
    await session.refresh(user)
    assert wrong.status_code == 401
    assert (user.hashed_password, user.updated_at) == (earlier, last_changed)

    right = await login(client, user.username, DEFAULT_PASSWORD)
    await session.refresh(user)
    assert right.status_code == 200
    assert user.hashed_password != earlier
    assert user.updated_at > last_changed
    assert not passwords._hasher().current_hasher.check_needs_rehash(user.hashed_password)
    assert (await login(client, user.username, DEFAULT_PASSWORD)).status_code == 200
