"""Real job infrastructure for one test: its own Redis (so a test may flush or stop it), a real
SMTP sink, and real Celery worker and beat processes, all stopped when the test ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path

from aiosmtpd.controller import Controller

from app.embedded import EmbeddedRedis, free_port
from app.mailsink import saved_messages, start_mail_sink

#: Short leases and timeouts so that fault tests finish in seconds (SPEC §6 semantics unchanged).
JOB_TEST_SETTINGS = {
    "JOB_LEASE_SECONDS": "2",
    "JOB_MAX_ATTEMPTS": "3",
    "JOB_RETRY_BASE_SECONDS": "0.2",
    "JOB_RETRY_MAX_SECONDS": "1",
    "CELERY_VISIBILITY_TIMEOUT_SECONDS": "30",
    "OUTBOX_RELAY_SECONDS": "0.5",
    "OUTBOX_REDELIVER_AFTER_SECONDS": "3",
    "REMINDER_SWEEP_SECONDS": "0.5",
    "REMINDER_LEAD_MINUTES": "60",
    "LOG_LEVEL": "INFO",  # the stack reads the processes' "ready" lines
}


def wait_until(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class JobStack:
    root: Path
    database_url: str
    redis: EmbeddedRedis = field(init=False)
    sink: Controller = field(init=False)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.redis = EmbeddedRedis(self.root / "redis", persistent=False)
        self.redis.start()
        self.mail_dir = self.root / "mail"
        self.markers = self.root / "markers"
        self.markers.mkdir(parents=True, exist_ok=True)
        self.sink = start_mail_sink(self.mail_dir, port=free_port())

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            **JOB_TEST_SETTINGS,
            "DATABASE_URL": self.database_url,
            "REDIS_BROKER": self.redis.url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.sink.port),
            "TASKHUB_TEST_MARKERS": str(self.markers),
        }

    def _spawn(
        self, name: str, args: list[str], ready_line: str, overrides: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log_path = self.root / f"{name}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "app.workers.celery_app", *args],
                env={**self.env, **(overrides or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() reaches every child
            )
        self.processes.append(process)
        wait_until(
            lambda: (
                ready_line in log_path.read_text(errors="replace") or process.poll() is not None
            ),
            timeout=60,
            what=f"{name} to start",
        )
        if process.poll() is not None:
            raise AssertionError(f"{name} exited: {log_path.read_text(errors='replace')[-2000:]}")
        return process

    def start_worker(
        self, concurrency: int = 2, overrides: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        name = f"worker-{uuid.uuid4().hex[:6]}"
        args = [
            "worker",
            "-I",
            "tests.jobs.fault_jobs",
            f"--concurrency={concurrency}",
            "-n",
            f"{name}@%h",
        ]
        args += ["--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO"]
        return self._spawn(name, args, " ready.", overrides)

    def start_beat(self, overrides: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        name = f"beat-{uuid.uuid4().hex[:6]}"
        schedule = self.root / f"{name}-schedule"
        args = ["beat", f"--schedule={schedule}", "--max-interval=1", "--loglevel=INFO"]
        return self._spawn(name, args, "beat: Starting...", overrides)

    def worker_children(self, worker: subprocess.Popen[bytes]) -> list[int]:
        children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def messages(self) -> list[dict[str, str]]:
        """Every mail the sink received: Message-ID, To and Subject."""
        found = []
        for path in saved_messages(self.mail_dir):
            message = message_from_bytes(path.read_bytes())
            found.append(
                {
                    "message_id": message["Message-ID"],
                    "to": message["To"],
                    "subject": message["Subject"],
                }
            )
        return found

    def message_ids(self) -> list[str]:
        return [message["message_id"] for message in self.messages()]

    def stop_processes(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()

    def close(self) -> None:
        try:
            self.stop_processes()
        finally:
            self.sink.stop()
            self.redis.stop()
