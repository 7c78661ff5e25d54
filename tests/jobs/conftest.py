from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from app.config import Settings
from app.jobs import smtp
from tests.jobs.stack import JobStack
from tests.services import STATE, TestServices


@pytest.fixture
def stack(services: TestServices) -> Iterator[JobStack]:
    root = STATE / "test-runs" / f"jobs-{uuid.uuid4().hex[:8]}"
    job_stack = JobStack(root, services.database_url)
    try:
        yield job_stack
    finally:
        job_stack.close()


@pytest.fixture
def smtp_connections() -> Iterator[None]:
    """The SMTP connections a test's worker process opened are closed and forgotten after it, so
    the next test does not reuse one to a server that is gone."""
    yield
    for connection in smtp._connections.values():
        connection.smtp.close()
    smtp._connections.clear()


@pytest.fixture(scope="session")
def db() -> Iterator[Engine]:
    """A plain synchronous engine on the test database, for committed setup and checks."""
    from app.config import get_settings

    url = make_url(get_settings().require_database_url()).set(drivername="postgresql+psycopg")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture
async def jobs_app(settings: Settings, stack: JobStack) -> AsyncIterator[FastAPI]:
    """The API wired to this test's Redis, so its outbox publishes reach this test's workers."""
    from app.main import create_app

    application = create_app(settings.model_copy(update={"redis_broker": stack.redis.url}))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def jobs_client(jobs_app: FastAPI) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=jobs_app, client=("198.51.100.9", 5000))
    async with AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def make_committed_user(db: Engine, *, email: str | None = "person@example.com") -> uuid.UUID:
    user_id = uuid.uuid4()
    with db.connect() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, email, hashed_password) VALUES (:id, :name, :email, 'x')"
            ),
            {"id": user_id, "name": f"u_{user_id.hex[:16]}", "email": email},
        )
    return user_id


def job_row(db: Engine, job_id: str) -> dict[str, object] | None:
    with db.connect() as conn:
        row = (
            conn.execute(text("SELECT * FROM job_log WHERE job_id = :id"), {"id": job_id})
            .mappings()
            .first()
        )
    return dict(row) if row else None


def marker_lines(stack: JobStack, job_id: str, suffix: str) -> list[str]:
    path: Path = stack.markers / f"{job_id.replace(':', '_')}.{suffix}"
    return path.read_text().split() if path.exists() else []
