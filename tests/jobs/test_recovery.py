"""A broker that loses messages (FLUSHALL) or goes away (stopped) loses no job (SPEC §6)."""

from __future__ import annotations

import asyncio
import uuid

import redis
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.jobs.mail import message_id
from tests.jobs.conftest import job_row
from tests.jobs.stack import JobStack, wait_until


async def _register(client: AsyncClient, email: str) -> str:
    response = await client.post(
        "/auth/register",
        json={"username": f"r_{uuid.uuid4().hex[:12]}", "password": "password123", "email": email},
    )
    assert response.status_code == 201, response.text
    return f"welcome_email:{response.json()['id']}"


def _published(db: Engine, job_id: str) -> bool:
    with db.connect() as conn:
        return bool(
            conn.execute(
                text("SELECT published_at IS NOT NULL FROM outbox WHERE job_id = :j"), {"j": job_id}
            ).scalar()
        )


async def test_flushed_broker_loses_nothing(
    stack: JobStack, db: Engine, jobs_client: AsyncClient
) -> None:
    """J8: the API publishes, Redis is flushed before any worker takes the message, and the
    reconciler republishes it after OUTBOX_REDELIVER_AFTER_SECONDS: exactly one mail."""
    job_id = await _register(jobs_client, "j8@example.com")
    await asyncio.to_thread(wait_until, lambda: _published(db, job_id), timeout=10, what="publish")
    client = redis.Redis.from_url(stack.redis.url)
    assert client.llen("celery") == 1
    client.flushall()
    assert client.llen("celery") == 0
    stack.start_worker()
    stack.start_beat()
    await asyncio.to_thread(
        wait_until,
        lambda: (job_row(db, job_id) or {}).get("status") == "succeeded",
        timeout=40,
        what="job",
    )
    assert stack.message_ids().count(message_id(job_id)) == 1
    with db.connect() as conn:
        publish_count = conn.execute(
            text("SELECT publish_count FROM outbox WHERE job_id = :j"), {"j": job_id}
        ).scalar()
    assert publish_count == 2  # once by the API, once by the reconciler


async def test_redis_outage_keeps_api_working_and_loses_no_job(
    stack: JobStack, db: Engine, jobs_client: AsyncClient
) -> None:
    """F4: with Redis stopped, registration and task CRUD still succeed; once Redis is back,
    every pending job runs exactly once."""
    stack.redis.stop()
    job_ids = [await _register(jobs_client, f"f4_{index}@example.com") for index in range(5)]
    login = await jobs_client.post(
        "/auth/login", data={"username": "nobody_here", "password": "wrong-password"}
    )
    assert login.status_code == 401  # rate limiting fails open: a real answer, not a 5xx
    ready = await jobs_client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"]["redis"] == "degraded"
    await asyncio.sleep(1)  # the background publishes give up
    assert not any(_published(db, job_id) for job_id in job_ids)

    stack.redis.start()
    stack.start_worker()
    stack.start_beat()
    for job_id in job_ids:
        await asyncio.to_thread(
            wait_until,
            lambda j=job_id: (job_row(db, j) or {}).get("status") == "succeeded",
            timeout=40,
            what=job_id,
        )
    await asyncio.sleep(1)
    ids = stack.message_ids()
    assert all(ids.count(message_id(job_id)) == 1 for job_id in job_ids)
