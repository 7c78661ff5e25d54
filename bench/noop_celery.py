"""The job-throughput ceiling: a bare Celery app whose task does nothing but count itself.

Same broker and the same delivery settings as TaskHub's worker (app/workers/celery_app.py:
acks_late, reject on worker loss, prefetch 1, JSON), its own queue so the two never mix. The
harness publishes N tasks and watches the Redis counter reach N.
"""

from __future__ import annotations

import os

from celery import Celery
from redis import Redis

QUEUE = "bench_noop"
TASK = "bench.noop"

app = Celery("bench_noop")
app.conf.update(
    broker_url=os.environ.get("REDIS_BROKER") or os.environ.get("REDIS_URL"),
    broker_connection_retry_on_startup=True,
    task_default_queue=QUEUE,
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
)

_redis: Redis | None = None


def _counter_client() -> Redis:
    """One client per (forked) pool process, made on first use."""
    global _redis
    if _redis is None:
        _redis = Redis.from_url(app.conf.broker_url)
    return _redis


@app.task(name=TASK)
def noop(counter_key: str) -> None:
    _counter_client().incr(counter_key)
