"""`taskhub dev`: the whole service on one machine, with embedded servers for what is not configured.

Starts PostgreSQL and Redis (embedded, unless DATABASE_URL / REDIS_URL are set), migrates, then runs
the API and the job processes as children, and stops all of them together on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

import psycopg
from sqlalchemy.engine import make_url

from app.config import STATE_DIR, Settings
from app.embedded import EmbeddedPostgres, EmbeddedRedis

DEV_DATABASE = "taskhub"


def ensure_database(url: str) -> None:
    """Create the database named in `url` if it does not exist yet."""
    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{parsed.database}"')


@dataclass
class DevStack:
    settings: Settings
    log: Callable[[str], None] = print
    stoppers: list[Callable[[], None]] = field(default_factory=list)
    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start_servers(self) -> dict[str, str]:
        """Start whatever is not configured; return the environment the children need."""
        env: dict[str, str] = {}
        database_url = self.settings.database_url
        if not database_url:
            pg = EmbeddedPostgres(STATE_DIR / "pg")
            pg.start()
            self.stoppers.append(pg.stop)
            database_url = pg.url(DEV_DATABASE)
            self.log(f"embedded PostgreSQL on 127.0.0.1:{pg.port} (data in {pg.data_dir})")
        ensure_database(database_url)
        env["DATABASE_URL"] = database_url
        redis_url = self.settings.redis_broker
        if not redis_url:
            redis = EmbeddedRedis(STATE_DIR / "redis")
            redis.start()
            self.stoppers.append(redis.stop)
            redis_url = redis.url
            self.log(f"embedded Redis on 127.0.0.1:{redis.port} (data in {redis.data_dir})")
        env["REDIS_BROKER"] = redis_url
        return env

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        process = subprocess.Popen(args, env={**os.environ, **env})
        self.children.append((name, process))

    def wait(self) -> int:
        """Block until Ctrl-C, SIGTERM or a child's exit; then stop everything."""
        stopping = False

        def request_stop(_signum: int, _frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        exit_code = 0
        while not stopping:
            for name, process in self.children:
                if process.poll() is not None:
                    self.log(f"{name} exited with {process.returncode}; stopping the stack")
                    exit_code = process.returncode or 1
                    stopping = True
            time.sleep(0.2)
        self.stop()
        return exit_code

    def stop(self) -> None:
        for _, process in self.children:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in self.children:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                self.log(f"{name} did not stop in time; killing it")
                process.kill()
        for stop in reversed(self.stoppers):
            stop()
        self.stoppers.clear()


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
