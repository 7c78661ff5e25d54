from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from httpx import AsyncClient, Response
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.tokens import encode_token
from app.config import Settings
from app.models import User
from tests.auth.conftest import login
from tests.factories import DEFAULT_PASSWORD, make_user


async def _refresh(client: AsyncClient, refresh_token: str) -> Response:
    return await client.post("/auth/refresh", json={"refresh_token": refresh_token})


async def _login_pair(client: AsyncClient, session: AsyncSession) -> dict[str, str]:
    user = await make_user(session)
    response = await login(client, user.username, DEFAULT_PASSWORD)
    assert response.status_code == 200
    pair: dict[str, str] = response.json()
    return pair


async def test_refresh_returns_a_new_working_pair(
    client: AsyncClient, session: AsyncSession
) -> None:
    first = await _login_pair(client, session)

    response = await _refresh(client, first["refresh_token"])

    assert response.status_code == 200
    second = response.json()
    assert second["token_type"] == "bearer"
    assert second["refresh_token"] != first["refresh_token"]
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert me.status_code == 200
    assert (await _refresh(client, second["refresh_token"])).status_code == 200


async def test_rotated_refresh_token_is_refused(client: AsyncClient, session: AsyncSession) -> None:
    first = await _login_pair(client, session)
    await _refresh(client, first["refresh_token"])

    response = await _refresh(client, first["refresh_token"])

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


async def test_refresh_token_reuse_revokes_family(
    client: AsyncClient, session: AsyncSession
) -> None:
    first = await _login_pair(client, session)
    second = (await _refresh(client, first["refresh_token"])).json()
    third = (await _refresh(client, second["refresh_token"])).json()

    assert (await _refresh(client, first["refresh_token"])).status_code == 401
    response = await _refresh(client, third["refresh_token"])

    assert response.status_code == 401


async def test_refresh_token_reuse_leaves_other_logins_alone(
    client: AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    stolen = (await login(client, user.username, DEFAULT_PASSWORD)).json()
    other_device = (await login(client, user.username, DEFAULT_PASSWORD)).json()
    await _refresh(client, stolen["refresh_token"])
    await _refresh(client, stolen["refresh_token"])

    response = await _refresh(client, other_device["refresh_token"])

    assert response.status_code == 200


async def test_logout_revokes_the_family(client: AsyncClient, session: AsyncSession) -> None:
    first = await _login_pair(client, session)
    second = (await _refresh(client, first["refresh_token"])).json()

    logout = await client.post("/auth/logout", json={"refresh_token": second["refresh_token"]})
    response = await _refresh(client, second["refresh_token"])

    assert logout.status_code == 204
    assert logout.content == b""
    assert response.status_code == 401


async def test_logout_with_an_older_token_of_the_login_revokes_the_newest(
    client: AsyncClient, session: AsyncSession
) -> None:
    first = await _login_pair(client, session)
    second = (await _refresh(client, first["refresh_token"])).json()

    logout = await client.post("/auth/logout", json={"refresh_token": first["refresh_token"]})
    response = await _refresh(client, second["refresh_token"])

    assert logout.status_code == 204
    assert response.status_code == 401


async def test_refresh_token_unknown_to_the_database_is_refused(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(session)
    forged, _ = encode_token(
        settings,
        user_id=user.id,
        token_type="refresh",
        jti=uuid.uuid4(),
        lifetime=timedelta(days=1),
    )

    response = await _refresh(client, forged)

    assert response.status_code == 401


async def test_refresh_token_of_an_inactive_user_is_refused(
    client: AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    pair = (await login(client, user.username, DEFAULT_PASSWORD)).json()
    await session.execute(update(User).where(User.id == user.id).values(is_active=False))
    await session.flush()

    response = await _refresh(client, pair["refresh_token"])

    assert response.status_code == 401


async def test_refresh_token_of_a_deleted_user_is_refused(
    client: AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    pair = (await login(client, user.username, DEFAULT_PASSWORD)).json()
    await session.execute(delete(User).where(User.id == user.id))
    await session.flush()

    response = await _refresh(client, pair["refresh_token"])

    assert response.status_code == 401


async def test_refresh_with_garbage_is_401(client: AsyncClient) -> None:
    response = await _refresh(client, "garbage.token.value")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_refresh_token_with_a_lone_surrogate_is_422(client: AsyncClient) -> None:
    response = await client.post(
        "/auth/refresh",
        content=b'{"refresh_token": "abc\\ud800def"}',
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 422


async def test_concurrent_refreshes_of_one_token_yield_one_new_pair(
    live_client: AsyncClient, live_user: tuple[str, str]
) -> None:
    username, password = live_user
    pair = (await login(live_client, username, password)).json()

    responses = await asyncio.gather(
        _refresh(live_client, pair["refresh_token"]),
        _refresh(live_client, pair["refresh_token"]),
    )

    assert sorted(response.status_code for response in responses) == [200, 401]


async def test_refresh_token_reuse_revocation_is_committed(
    live_client: AsyncClient, live_user: tuple[str, str]
) -> None:
    """The request fails with 401, yet its revocation must commit (the real session dependency)."""
    username, password = live_user
    first = (await login(live_client, username, password)).json()
    second = (await _refresh(live_client, first["refresh_token"])).json()
    assert (await _refresh(live_client, first["refresh_token"])).status_code == 401

    response = await _refresh(live_client, second["refresh_token"])

    assert response.status_code == 401
