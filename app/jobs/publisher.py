"""Publishing outbox rows to the broker (Celery over Redis).

A message's Celery task id is the job id, so every copy of a job, however often it is
published, is recognised by the job_log claim. Publishing is quick to give up (short socket
timeouts, no retries): anything not published now is published by the relay later.
"""

from __future__ import annotations

from typing import Any

from celery import Celery


def publish(celery: Celery, *, job_id: str, name: str, kwargs: dict[str, Any]) -> None:
    celery.send_task(name, kwargs=kwargs, task_id=job_id, retry=False)
