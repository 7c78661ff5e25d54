"""J10: welcome mails under concurrent registrations: one per user, each with its own Message-ID."""

from __future__ import annotations

import asyncio
import uuid

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.jobs.mail import message_id
from tests.jobs.stack import JobStack, wait_until

REGISTRATIONS = 1000
CONCURRENCY = 50


async def test_thousand_concurrent_registrations_send_thousand_distinct_mails(
    stack: JobStack, db: Engine, jobs_client: AsyncClient
) -> None:
    # Under this load a job can wait or run for seconds: leases and redelivery sized for it.
    patient = {
        "JOB_LEASE_SECONDS": "60",
        "OUTBOX_REDELIVER_AFTER_SECONDS": "120",
        "CELERY_VISIBILITY_TIMEOUT_SECONDS": "300",
    }
    stack.start_worker(concurrency=4, overrides=patient)
    stack.start_beat(overrides=patient)
    run = uuid.uuid4().hex[:8]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def register(index: int) -> str:
        async with gate:
            response = await jobs_client.post(
                "/auth/register",
                json={
                    "username": f"j10_{run}_{index}",
                    "password": "password123",
                    "email": f"j10.{run}.{index}@example.com",
                },
            )
        assert response.status_code == 201, response.text
        return f"welcome_email:{response.json()['id']}"

    job_ids = await asyncio.gather(*(register(index) for index in range(REGISTRATIONS)))

    def all_succeeded() -> bool:
        with db.connect() as conn:
            done = conn.execute(
                text(
                    "SELECT count(*) FROM job_log WHERE job_id = ANY(:ids) AND status = 'succeeded'"
                ),
                {"ids": job_ids},
            ).scalar()
        return done == REGISTRATIONS

    await asyncio.to_thread(wait_until, all_succeeded, timeout=240, what="1000 welcome jobs")
    mine = [m for m in stack.messages() if m["to"].startswith(f"j10.{run}.")]
    assert len(mine) == REGISTRATIONS
    assert {m["message_id"] for m in mine} == {message_id(job_id) for job_id in job_ids}
