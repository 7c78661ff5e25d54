"""Test wiring: real PostgreSQL and Redis, migrated once per run, each test in a rolled-back
transaction (SQLAlchemy's "join a session into an external transaction" recipe)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator

import pytest
from httpx import ASGITransport, AsyncClient

from tests import services as test_services

SERVICES: test_services.TestServices | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Start the servers and set the environment before any app module reads its settings."""
    global SERVICES
    if hasattr(config, "workerinput") or not os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        SERVICES = test_services.start(worker)
        os.environ.update(
            ENV="test",
            DATABASE_URL=SERVICES.database_url,
            REDIS_BROKER=SERVICES.redis_url,
            JWT_SECRET="test-secret-" + "x" * 40,
            PASSWORD_HASH_PROFILE="fast",
            LOG_LEVEL="WARNING",
        )
        from tests.migrations import upgrade_head

        upgrade_head(SERVICES.database_url)


def pytest_unconfigure(config: pytest.Config) -> None:
    if SERVICES is not None:
        SERVICES.stop()


@pytest.fixture(scope="session")
def services() -> test_services.TestServices:
    assert SERVICES is not None
    return SERVICES


@pytest.fixture(scope="session")
def settings():  # type: ignore[no-untyped-def]
    from app.config import get_settings

    return get_settings()


@pytest.fixture(scope="session")
async def app(settings):  # type: ignore[no-untyped-def]
    from app.main import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def session(app) -> AsyncIterator:  # type: ignore[no-untyped-def]
    """A session inside an outer transaction that is rolled back after the test; the app's
    session dependency and its /tasks pool use the same connection (commits become
    savepoints)."""
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from app.db import get_session, session_scope

    async with app.state.engine.connect() as connection:
        outer = await connection.begin()
        sessionmaker = async_sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )

        async def override() -> AsyncIterator[AsyncSession]:
            async with session_scope(sessionmaker) as request_session:
                yield request_session

        tasks_pool = app.state.tasks_pool
        app.state.tasks_pool = dataclasses.replace(
            tasks_pool,
            connections=OneConnectionPool(
                (await connection.get_raw_connection()).driver_connection
            ),
        )
        app.dependency_overrides[get_session] = override
        try:
            async with sessionmaker() as test_session:
                yield test_session
        finally:
            app.dependency_overrides.pop(get_session, None)
            app.state.tasks_pool = tasks_pool
        await outer.rollback()


class OneConnectionPool:
    """Stands in for the app's /tasks pool (`app.db.tasks_connection` calls these two methods):
    every checkout gets the test's connection, inside its transaction."""

    def __init__(self, connection: object) -> None:
        self.connection = connection

    async def acquire(self) -> object:
        return self.connection

    async def release(self, connection: object) -> None:
        assert connection is self.connection


@pytest.fixture
async def client(app, session) -> AsyncIterator[AsyncClient]:  # type: ignore[no-untyped-def]
    transport = ASGITransport(app=app, client=("203.0.113.7", 4000))
    async with AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def live_client(app) -> AsyncIterator[AsyncClient]:  # type: ignore[no-untyped-def]
    """A client whose requests commit for real, for tests about concurrency between requests.
    Tests using it create their own users with unique names, so nothing else sees their rows."""
    transport = ASGITransport(app=app, client=("203.0.113.8", 4000))
    async with AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture(autouse=True)
async def _clear_rate_limits(app) -> None:  # type: ignore[no-untyped-def]
    await app.state.redis.flushdb()
