"""Liveness and readiness, including real outages (clients pointed at ports nobody listens on)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.config import Settings
from app.db import create_sessionmaker
from app.health import APP_VERSION
from app.models import User
from tests.factories import auth_headers


def _dead_engine() -> AsyncEngine:
    return create_async_engine(
        f"postgresql+asyncpg://nobody:nothing@127.0.0.1:{closed_port()}/none",
        connect_args={"timeout": 1},
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def redis_down(app: FastAPI) -> AsyncIterator[None]:
    """The app's Redis client points at a closed port for the duration of the test."""
    original = app.state.redis
    dead = Redis.from_url(
        f"redis://127.0.0.1:{closed_port()}/0", socket_connect_timeout=0.5, socket_timeout=0.5
    )
    app.state.redis = dead
    yield
    app.state.redis = original
    await dead.aclose()


@pytest.fixture
async def database_down(app: FastAPI, client: AsyncClient) -> AsyncIterator[None]:
    """The app's engine points at a closed port for the duration of the test (set up after
    `client`, whose rolled-back transaction holds a connection of the real engine)."""
    original = app.state.engine
    app.state.engine = dead = _dead_engine()
    yield
    app.state.engine = original
    await dead.dispose()


@pytest.fixture
async def requests_database_down(app: FastAPI) -> AsyncIterator[None]:
    """Request sessions (not overridden: no `session` fixture) use an engine to a closed port."""
    original = app.state.engine, app.state.sessionmaker
    dead = _dead_engine()
    app.state.engine, app.state.sessionmaker = dead, create_sessionmaker(dead)
    yield
    app.state.engine, app.state.sessionmaker = original
    await dead.dispose()


async def test_health_reports_status_app_and_version(
    client: AsyncClient, settings: Settings
) -> None:
    response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "app": settings.app_name, "version": APP_VERSION}


async def test_ready_reports_database_and_redis_ok(client: AsyncClient) -> None:
    response = await client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


@pytest.mark.usefixtures("redis_down")
async def test_ready_stays_200_with_redis_degraded(client: AsyncClient) -> None:
    response = await client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "degraded"}}


@pytest.mark.usefixtures("database_down")
async def test_ready_is_503_when_the_database_is_unreachable(client: AsyncClient) -> None:
    response = await client.get("/ready")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["database"] == "unavailable"


@pytest.mark.usefixtures("database_down")
async def test_health_stays_200_when_the_database_is_unreachable(client: AsyncClient) -> None:
    response = await client.get("/health")

    assert response.status_code == 200


@pytest.mark.usefixtures("requests_database_down")
async def test_request_needing_the_database_is_503_when_it_is_unreachable(
    live_client: AsyncClient, settings: Settings
) -> None:
    response = await live_client.get(
        "/auth/me", headers=auth_headers(settings, User(id=uuid.uuid4()))
    )

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
