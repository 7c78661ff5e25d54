"""The relay sweep against the real database and a real Redis: it publishes due rows oldest
first, in batches sent with one round trip each, holds no row lock while publishing, and gives
back at once what the broker refused."""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.config import Settings
from app.embedded import EmbeddedRedis, free_port
from app.jobs import publisher, relay
from app.workers.celery_app import create_celery, worker_session
from tests.jobs.stack import JobStack

NAME = "tests.relayed"


def _due_rows(db: Engine, count: int) -> list[str]:
    """`count` unpublished rows, due long before anything else in the table, oldest first."""
    job_ids = [f"{NAME}:{uuid.uuid4()}" for _ in range(count)]
    with db.connect() as conn:
        for position, job_id in enumerate(job_ids):
            conn.execute(
                text(
                    "INSERT INTO outbox (job_id, name, kwargs, run_at) VALUES"
                    " (:id, :name, '{}', timestamptz '2000-01-01' + make_interval(secs => :pos))"
                ),
                {"id": job_id, "name": NAME, "pos": position},
            )
    return job_ids


def _stamps(db: Engine, job_ids: list[str]) -> dict[str, tuple[bool, int]]:
    """job id → (stamped published, publish_count)."""
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT job_id, published_at IS NOT NULL, publish_count FROM outbox"
                " WHERE job_id = ANY(:ids)"
            ),
            {"ids": job_ids},
        ).all()
    return {job_id: (stamped, count) for job_id, stamped, count in rows}


def _queued_job_ids(redis_url: str) -> list[str]:
    client = redis.Redis.from_url(redis_url)
    try:
        return [json.loads(raw)["headers"]["id"] for raw in client.lrange("celery", 0, -1)]
    finally:
        client.close()


def _refusing_broker(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the relay at a Redis address where nothing listens."""
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    celery = create_celery(
        settings.model_copy(update={"redis_broker": unreachable, "redis_timeout_seconds": 0.2})
    )
    monkeypatch.setattr(relay, "celery_app", celery)


def test_a_sweep_publishes_oldest_first_and_holds_no_lock_meanwhile(
    db: Engine, settings: Settings, stack: JobStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_ids = _due_rows(db, 3)
    celery = create_celery(settings.model_copy(update={"redis_broker": stack.redis.url}))
    monkeypatch.setattr(relay, "celery_app", celery)
    finished_meanwhile: list[str] = []
    real_publish = publisher.publish

    def publish_and_finish_a_job(celery: Any, *, job_id: str, **message: Any) -> None:
        """While the sweep publishes, a job finishes: its mark must not wait for the sweep."""
        if job_id == job_ids[0]:
            with db.connect() as conn:
                conn.execute(text("SET lock_timeout = '1s'"))
                try:
                    conn.execute(
                        text("UPDATE outbox SET done_at = now() WHERE job_id = :id"), {"id": job_id}
                    )
                finally:
                    conn.execute(text("RESET lock_timeout"))  # the connection goes back to the pool
            finished_meanwhile.append(job_id)
        real_publish(celery, job_id=job_id, **message)

    monkeypatch.setattr(relay, "publish", publish_and_finish_a_job)
    assert relay.publish_pending() >= 3
    assert finished_meanwhile == [job_ids[0]]
    assert _stamps(db, job_ids) == dict.fromkeys(job_ids, (True, 1))
    assert _queued_job_ids(stack.redis.url)[-3:] == list(reversed(job_ids))  # LPUSH: newest left
    relay.publish_pending()  # stamped rows wait out the redelivery delay: not published again
    queued = Counter(_queued_job_ids(stack.redis.url))
    assert [queued[job_id] for job_id in job_ids] == [1, 1, 1]


def test_a_sweep_sends_a_batch_at_once_and_gives_back_what_a_failed_batch_held(
    db: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of two: the first reaches Redis in one piece; Redis stops while the second is
    being built, so its flush fails, and its rows and the rest are given back."""
    job_ids = _due_rows(db, 5)
    broker = EmbeddedRedis(tmp_path / "redis", persistent=False)
    broker.start()
    celery = create_celery(
        settings.model_copy(update={"redis_broker": broker.url, "redis_timeout_seconds": 0.2})
    )
    monkeypatch.setattr(relay, "celery_app", celery)
    monkeypatch.setattr(relay, "PUBLISH_BATCH", 2)
    queued_at_each_publish: list[list[str]] = []
    real_publish = publisher.publish

    def publish_then_stop_the_broker(celery: Any, *, job_id: str, **message: Any) -> None:
        real_publish(celery, job_id=job_id, **message)
        queued_at_each_publish.append(list(reversed(_queued_job_ids(broker.url))))
        if job_id == job_ids[2]:
            broker.stop()

    monkeypatch.setattr(relay, "publish", publish_then_stop_the_broker)
    try:
        assert relay.publish_pending() == 2
    finally:
        broker.stop()
    # a batch goes out whole with its last message; the third one waited for the fourth
    assert queued_at_each_publish == [[], job_ids[:2], job_ids[:2]]
    assert _stamps(db, job_ids) == {
        **dict.fromkeys(job_ids[:2], (True, 1)),
        **dict.fromkeys(job_ids[2:], (False, 0)),
    }


def test_rows_the_broker_refuses_are_given_back_at_once(
    db: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_ids = _due_rows(db, 2)
    _refusing_broker(settings, monkeypatch)
    assert relay.publish_pending() == 0
    assert _stamps(db, job_ids) == dict.fromkeys(job_ids, (False, 0))


def test_rows_not_given_back_wait_for_the_reconciler(
    db: Engine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The broker refuses and then the database is unreachable too: the rows stay stamped, and the
    reconciler publishes them after OUTBOX_REDELIVER_AFTER_SECONDS."""
    job_ids = _due_rows(db, 2)
    _refusing_broker(settings, monkeypatch)
    dead_database = create_engine(
        f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none",
        connect_args={"connect_timeout": 1},
    )
    sessions = iter([worker_session(), Session(dead_database)])
    monkeypatch.setattr(relay, "worker_session", lambda: next(sessions))
    with caplog.at_level(logging.WARNING, logger=relay.__name__):
        assert relay.publish_pending() == 0
    assert _stamps(db, job_ids) == dict.fromkeys(job_ids, (True, 1))
    assert "could not give back" in caplog.text
    dead_database.dispose()
