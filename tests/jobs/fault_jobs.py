"""Jobs used only by the fault tests: the real welcome-mail body and the real runner, read-only
like the real mail jobs, with a place to pause (so a test can `kill -9` the worker child at a
known point) or to fail."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from celery import Task
from sqlalchemy import Connection

from app.jobs.runner import run_job
from app.jobs.welcome import send_welcome
from app.workers.celery_app import celery_app

MARKERS = Path(os.environ.get("TASKHUB_TEST_MARKERS", "/tmp/taskhub-test-markers"))


def marker(job_id: str, suffix: str) -> Path:
    return MARKERS / f"{job_id.replace(':', '_')}.{suffix}"


def record_delivery(job_id: str) -> None:
    with marker(job_id, "deliveries").open("a") as log:
        log.write(f"{os.getpid()}\n")


def pause_once(job_id: str, seconds: float) -> None:
    """On the first delivery only: leave our pid for the test, then wait to be killed."""
    pid_file = marker(job_id, "pid")
    if not pid_file.exists():
        pid_file.write_text(str(os.getpid()))
        time.sleep(seconds)


@celery_app.task(name="tests.pause_before_commit", bind=True)
def pause_before_commit(self: Task[Any, Any], user_id: str, pause: float) -> dict[str, Any]:
    job_id = str(self.request.id)
    record_delivery(job_id)

    def body(conn: Connection) -> dict[str, Any]:
        pause_once(job_id, pause)
        return send_welcome(conn, job_id, user_id)

    return run_job(self, "tests.pause_before_commit", body, read_only=True)


@celery_app.task(name="tests.pause_after_commit", bind=True)
def pause_after_commit(self: Task[Any, Any], user_id: str, pause: float) -> dict[str, Any]:
    job_id = str(self.request.id)
    record_delivery(job_id)
    result = run_job(
        self,
        "tests.pause_after_commit",
        lambda conn: send_welcome(conn, job_id, user_id),
        read_only=True,
    )
    pause_once(job_id, pause)  # committed, not yet acknowledged
    return result


@celery_app.task(name="tests.poison", bind=True)
def poison(self: Task[Any, Any], user_id: str) -> dict[str, Any]:
    job_id = str(self.request.id)
    record_delivery(job_id)

    def body(conn: Connection) -> dict[str, Any]:
        os.kill(os.getpid(), signal.SIGKILL)  # the process dies on every attempt
        return {}

    return run_job(self, "tests.poison", body)


@celery_app.task(name="tests.flaky_mail", bind=True)
def flaky_mail(self: Task[Any, Any], user_id: str) -> dict[str, Any]:
    """Raises while its `.fail` marker exists, then behaves like the welcome mail."""
    job_id = str(self.request.id)
    record_delivery(job_id)

    def body(conn: Connection) -> dict[str, Any]:
        if marker(job_id, "fail").exists():
            raise RuntimeError("injected failure")
        return send_welcome(conn, job_id, user_id)

    return run_job(self, "tests.flaky_mail", body, read_only=True)
