"""The Celery application (`celery -A app.workers.celery_app worker`).

Jobs run at least once by Celery's contract (acks_late: a message is acknowledged after the job,
and redelivered if the worker dies); the job_log claim in app/jobs/runner.py turns that into
exactly-once effects. Workers reach PostgreSQL through one synchronous engine per process,
created lazily in the process that uses it, so no pooled connection ever crosses a fork.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache

from celery import Celery, signals
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings, get_settings
from app.logs import configure_logging

JOB_MODULES = ["app.jobs.welcome", "app.jobs.reminders", "app.jobs.export", "app.jobs.relay"]


def create_celery(settings: Settings) -> Celery:
    app = Celery("taskhub")
    broker_options = {
        "visibility_timeout": settings.celery_visibility_timeout_seconds,
        "socket_timeout": settings.redis_timeout_seconds * 10,
        "socket_connect_timeout": settings.redis_timeout_seconds * 4,
    }
    app.conf.update(
        broker_url=settings.redis_broker,
        broker_transport_options=broker_options,
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,  # results live in job_log
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # A job may not outlive its job_log lease: past it, another worker may take the job over.
        task_time_limit=max(int(settings.job_lease_seconds), 1),
        worker_concurrency=settings.worker_concurrency,
        include=JOB_MODULES,
        beat_schedule={
            "outbox-relay": {
                "task": "jobs.relay_outbox",
                "schedule": settings.outbox_relay_seconds,
            },
            "reminder-sweep": {
                "task": "tasks.schedule_reminders",
                "schedule": settings.reminder_sweep_seconds,
            },
        },
    )
    return app


celery_app = create_celery(get_settings())


@signals.worker_process_init.connect
def _connect_after_fork(**_: object) -> None:
    """Open this child's engine now, so the first job's time limit is not spent connecting."""
    try:
        with worker_engine().connect():
            pass
    except SQLAlchemyError as exc:  # the database may be down; jobs will retry their claims
        logging.getLogger(__name__).warning("worker could not reach the database: %s", exc)


@signals.setup_logging.connect
def _configure_logging(**_: object) -> None:
    """Workers and beat log like the API (LOG_FORMAT, LOG_LEVEL) instead of Celery's own setup."""
    configure_logging(get_settings())


@lru_cache
def _engine_for_process(pid: int) -> Engine:
    settings = get_settings()
    url = make_url(settings.require_database_url()).set(drivername="postgresql+psycopg")
    return create_engine(
        url,
        pool_size=2,
        max_overflow=2,
        pool_pre_ping=False,  # a dead connection fails one attempt; the runner retries it
        connect_args={
            "connect_timeout": max(int(settings.db_connect_timeout_seconds), 1),
            "options": f"-c timezone=UTC -c statement_timeout={int(settings.job_lease_seconds * 1000)}",
            "application_name": f"taskhub-worker-{pid}",
        },
    )


def worker_engine() -> Engine:
    """This process's engine (a forked child gets its own on first use)."""
    return _engine_for_process(os.getpid())


def worker_session() -> Session:
    return sessionmaker(worker_engine(), expire_on_commit=False)()
