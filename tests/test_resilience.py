"""Graceful failure (SPEC §7): PostgreSQL down → fast 503s, the app recovers by itself; a
statement stuck behind a lock is cut off by statement_timeout."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from app.config import Settings
from app.embedded import EmbeddedPostgres
from tests.migrations import upgrade_head
from tests.services import STATE


@pytest.fixture
def own_postgres() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL this test may stop and start (the shared one must stay up)."""
    server = EmbeddedPostgres(
        STATE / "test-runs" / f"pg-{uuid.uuid4().hex[:8]}" / "pg", durable=False
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def fragile_client(
    own_postgres: EmbeddedPostgres, settings: Settings
) -> AsyncIterator[AsyncClient]:
    url = own_postgres.url("postgres")
    await asyncio.to_thread(upgrade_head, url)
    tuned = settings.model_copy(
        update={
            "database_url": url,
            "db_connect_timeout_seconds": 1.0,
            "db_statement_timeout_ms": 300,
        }
    )
    from app.main import create_app

    application: FastAPI = create_app(tuned)
    async with application.router.lifespan_context(application):
        transport = ASGITransport(app=application)
        async with AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def _login(client: AsyncClient) -> dict[str, str]:
    name = f"res_{uuid.uuid4().hex[:10]}"
    assert (
        await client.post("/auth/register", json={"username": name, "password": "password123"})
    ).status_code == 201
    token = (
        await client.post("/auth/login", data={"username": name, "password": "password123"})
    ).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


async def test_database_outage_gives_fast_503_and_recovers(
    fragile_client: AsyncClient, own_postgres: EmbeddedPostgres
) -> None:
    headers = await _login(fragile_client)
    assert (await fragile_client.get("/tasks", headers=headers)).status_code == 200

    await asyncio.to_thread(own_postgres.stop)
    for _ in range(3):  # every pooled connection is dead, and new ones are refused
        started = time.monotonic()
        response = await fragile_client.get("/tasks", headers=headers)
        assert response.status_code == 503
        assert time.monotonic() - started < 5
        assert response.headers["content-type"] == "application/problem+json"
        assert int(response.headers["Retry-After"]) > 0
    assert (await fragile_client.get("/health")).status_code == 200
    ready = await fragile_client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "unavailable"

    await asyncio.to_thread(own_postgres.start)
    statuses = []
    for _ in range(20):
        statuses.append((await fragile_client.get("/tasks", headers=headers)).status_code)
        if statuses[-1] == 200:
            break
        await asyncio.sleep(0.2)
    assert statuses[-1] == 200, statuses
    assert set(statuses) <= {200, 503}
    assert (await fragile_client.get("/ready")).status_code == 200


async def test_statement_stuck_on_a_lock_is_cut_off_with_503(
    fragile_client: AsyncClient, own_postgres: EmbeddedPostgres
) -> None:
    headers = await _login(fragile_client)
    created = await fragile_client.post("/tasks", json={"title": "locked task"}, headers=headers)
    task_id = created.json()["id"]
    import psycopg

    with psycopg.connect(own_postgres.url("postgres").replace("+asyncpg", "")) as blocker:
        blocker.execute("SELECT 1 FROM tasks WHERE id = %s FOR UPDATE", (task_id,))
        started = time.monotonic()
        response = await fragile_client.patch(
            f"/tasks/{task_id}", json={"priority": 2}, headers=headers
        )
        elapsed = time.monotonic() - started
        blocker.rollback()
    assert response.status_code == 503
    assert elapsed < 3  # DB_STATEMENT_TIMEOUT_MS=300 bounds it
    assert "Retry-After" in response.headers
    after = await fragile_client.get(f"/tasks/{task_id}", headers=headers)
    assert after.json()["priority"] == 0


async def test_tasks_pool_exhausted_gives_503_after_the_connect_timeout(
    settings: Settings,
) -> None:
    tuned = settings.model_copy(update={"db_tasks_pool_size": 1, "db_connect_timeout_seconds": 0.3})
    from app.main import create_app

    application: FastAPI = create_app(tuned)
    async with application.router.lifespan_context(application):
        transport = ASGITransport(app=application)
        async with AsyncClient(transport=transport, base_url="http://testserver") as http:
            auth_headers = await _login(http)
            assert (await http.get("/tasks", headers=auth_headers)).status_code == 200
            held = await application.state.tasks_pool.connections.acquire()  # the only one
            try:
                started = time.monotonic()
                response = await http.get("/tasks", headers=auth_headers)
                waited = time.monotonic() - started
            finally:
                await application.state.tasks_pool.connections.release(held)
            assert (await http.get("/tasks", headers=auth_headers)).status_code == 200
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert 0.3 <= waited < 3
