from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.deps import get_login_limiter
from app.auth.rate_limit import LoginLimiter
from app.config import Settings
from tests.auth.conftest import OverrideSettings, login
from tests.factories import DEFAULT_PASSWORD, make_user

WRONG = "definitely wrong"


def closed_port() -> int:
    """A local port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def unreachable_redis_limiter(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    """Login uses a limiter whose Redis refuses connections (a real client, a real refusal)."""
    dead = Redis.from_url(
        f"redis://127.0.0.1:{closed_port()}/0", socket_connect_timeout=0.5, socket_timeout=0.5
    )
    app.dependency_overrides[get_login_limiter] = lambda: LoginLimiter(dead, settings)
    yield
    app.dependency_overrides.pop(get_login_limiter, None)
    await dead.aclose()


async def test_failed_logins_for_one_username_are_limited(
    client: AsyncClient, session: AsyncSession, override_settings: OverrideSettings
) -> None:
    settings = override_settings(login_max_failures_per_username=3, login_max_failures_per_ip=100)
    user = await make_user(session)
    failures = [(await login(client, user.username, WRONG)).status_code for _ in range(3)]

    limited = await login(client, user.username, WRONG)

    assert failures == [401, 401, 401]
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert limited.json()["status"] == 429
    retry_after = int(limited.headers["retry-after"])
    assert 0 < retry_after <= settings.login_failure_window_seconds


async def test_rate_limited_username_is_refused_even_with_the_right_password(
    client: AsyncClient, session: AsyncSession, override_settings: OverrideSettings
) -> None:
    override_settings(login_max_failures_per_username=2, login_max_failures_per_ip=100)
    user = await make_user(session)
    for _ in range(2):
        await login(client, user.username, WRONG)

    response = await login(client, user.username, DEFAULT_PASSWORD)

    assert response.status_code == 429


async def test_username_limit_ignores_case(
    client: AsyncClient, session: AsyncSession, override_settings: OverrideSettings
) -> None:
    override_settings(login_max_failures_per_username=2, login_max_failures_per_ip=100)
    await make_user(session, username="Case.Limited")
    await login(client, "case.limited", WRONG)
    await login(client, "CASE.LIMITED", WRONG)

    response = await login(client, "Case.Limited", DEFAULT_PASSWORD)

    assert response.status_code == 429


async def test_failed_logins_from_one_ip_are_limited_across_usernames(
    client: AsyncClient, session: AsyncSession, override_settings: OverrideSettings
) -> None:
    override_settings(login_max_failures_per_username=100, login_max_failures_per_ip=3)
    user = await make_user(session)
    for name in ("first_name", "second_name", "third_name"):
        assert (await login(client, name, WRONG)).status_code == 401

    response = await login(client, user.username, DEFAULT_PASSWORD)

    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0


async def test_ip_limit_does_not_affect_other_clients(
    app: FastAPI,
    client: AsyncClient,
    session: AsyncSession,
    override_settings: OverrideSettings,
) -> None:
    override_settings(login_max_failures_per_username=100, login_max_failures_per_ip=2)
    user = await make_user(session)
    for name in ("first_name", "second_name"):
        await login(client, name, WRONG)
    other = ASGITransport(app=app, client=("198.51.100.20", 4000))

    async with AsyncClient(transport=other, base_url="http://testserver") as other_client:
        response = await login(other_client, user.username, DEFAULT_PASSWORD)

    assert response.status_code == 200


async def test_successful_logins_do_not_count_against_the_limit(
    client: AsyncClient, session: AsyncSession, override_settings: OverrideSettings
) -> None:
    override_settings(login_max_failures_per_username=2, login_max_failures_per_ip=2)
    user = await make_user(session)
    successes = [
        (await login(client, user.username, DEFAULT_PASSWORD)).status_code for _ in range(4)
    ]

    failure = await login(client, user.username, WRONG)

    assert successes == [200, 200, 200, 200]
    assert failure.status_code == 401


async def test_rate_limit_ends_when_the_window_expires(
    client: AsyncClient, session: AsyncSession, override_settings: OverrideSettings
) -> None:
    override_settings(
        login_max_failures_per_username=1,
        login_max_failures_per_ip=100,
        login_failure_window_seconds=1,
    )
    user = await make_user(session)
    await login(client, user.username, WRONG)
    assert (await login(client, user.username, DEFAULT_PASSWORD)).status_code == 429

    await asyncio.sleep(1.2)
    response = await login(client, user.username, DEFAULT_PASSWORD)

    assert response.status_code == 200


@pytest.mark.usefixtures("unreachable_redis_limiter")
async def test_login_works_when_redis_is_unreachable(
    client: AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)

    response = await login(client, user.username, DEFAULT_PASSWORD)

    assert response.status_code == 200


@pytest.mark.usefixtures("unreachable_redis_limiter")
async def test_failed_login_is_still_401_when_redis_is_unreachable(
    client: AsyncClient, session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    user = await make_user(session)

    response = await login(client, user.username, WRONG)

    assert response.status_code == 401
    assert any("failing open" in record.getMessage() for record in caplog.records)
