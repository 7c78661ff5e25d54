"""Publishing outbox rows to the broker (Celery over Redis).

A message's Celery task id is the job id, so every copy of a job, however often it is
published, is recognised by the job_log claim. Publishing is quick to give up (short socket
timeouts, no retries): anything not published now is published by the relay later.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Celery
from kombu import Producer
from kombu.exceptions import BatchPublishError  # type: ignore[attr-defined]  # kombu 5.7; stubs predate it
from kombu.exceptions import OperationalError as BrokerError


def publish(
    celery: Celery,
    *,
    job_id: str,
    name: str,
    kwargs: dict[str, Any],
    producer: Producer | None = None,
) -> None:
    celery.send_task(name, kwargs=kwargs, task_id=job_id, retry=False, producer=producer)


@contextmanager
def batch(celery: Celery, size: int) -> Iterator[Producer]:
    """A producer whose `size` publishes (pass it to `publish`) reach the broker together when
    the block ends: one Redis pipeline, one round trip, instead of one per message (kombu's batch
    publishing). Nothing is sent if the block raises. A failure to send, also of that last flush,
    raises BrokerError; the messages of a pipeline that failed part-way may be queued or not."""
    with celery.producer_or_acquire() as producer:
        try:
            with producer.batch(max_size=size):
                yield producer
        except BatchPublishError as exc:  # the flush; a failed publish raises BrokerError itself
            raise BrokerError(f"{exc}: {exc.__cause__}") from exc
