"""Everything the benchmark runs against: PostgreSQL and Redis (embedded unless DATABASE_URL /
REDIS_URL are set), the migrated schema, the TaskHub API and the ceiling app on identical uvicorn
settings, and the job processes (Celery workers, an SMTP sink)."""

from __future__ import annotations

import os
import secrets
import subprocess
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.config import BenchConfig
from bench.procs import Child, python_module, spawn, wait_for_http, wait_for_port
from bench.tools import ensure_tool

BENCH_DATABASE = "taskhub"


@dataclass(frozen=True, slots=True)
class Services:
    database_url: str  # postgresql+asyncpg://..., as the app wants it
    redis_url: str
    postmaster_pid: int | None  # embedded only: lets us account PostgreSQL's CPU time
    redis_pid: int | None  # embedded only, likewise

    @property
    def dsn(self) -> str:
        """The same database as a libpq/asyncpg DSN."""
        url = make_url(self.database_url).set(drivername="postgresql")
        return url.render_as_string(hide_password=False)


@dataclass(frozen=True, slots=True)
class Server:
    child: Child
    base_url: str

    @property
    def pid(self) -> int:
        return self.child.pid


def start_services(config: BenchConfig, run_dir: Path, stack: ExitStack) -> Services:
    from app.devstack import ensure_database
    from app.embedded import EmbeddedPostgres, EmbeddedRedis

    database_url = config.database_url
    postmaster_pid = None
    if database_url is None:
        # Durable (fsync on), like production: commits pay for their WAL flush.
        pg = EmbeddedPostgres(run_dir / "pg", durable=True)
        stack.callback(pg.stop)
        pg.start()
        database_url = pg.url(BENCH_DATABASE)
        postmaster_pid = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    ensure_database(database_url)
    redis_url = config.redis_url
    redis_pid = None
    if redis_url is None:
        redis = EmbeddedRedis(run_dir / "redis", persistent=False)
        stack.callback(redis.stop)
        redis.start()
        redis_url = redis.url
        assert redis.process is not None  # start() returned: it runs
        redis_pid = redis.process.pid
    return Services(database_url, redis_url, postmaster_pid, redis_pid)


def app_env(services: Services) -> dict[str, str]:
    """Production settings for every TaskHub process of the run (one fresh 48-byte secret)."""
    return {
        **os.environ,
        "ENV": "prod",
        "JWT_SECRET": secrets.token_urlsafe(36),
        "LOG_LEVEL": "WARNING",
        "PASSWORD_HASH_PROFILE": "owasp",
        "DOCS_ENABLED": "false",
        "DATABASE_URL": services.database_url,
        "REDIS_BROKER": services.redis_url,
        "WEB_CONCURRENCY": "1",
        "WORKER_CONCURRENCY": "2",
        "PYTHONUNBUFFERED": "1",
    }


def migrate(env: dict[str, str], log_dir: Path) -> None:
    """`taskhub migrate`, as a deployment's one-shot migration task would run it."""
    with open(log_dir / "migrate.log", "ab") as log:
        subprocess.run(
            python_module("app.cli", "migrate"), env=env, stdout=log, stderr=log, check=True
        )


def uvicorn_args(app_path: str, port: int) -> list[str]:
    """The one uvicorn command line for both TaskHub and the ceiling: one process, uvloop,
    httptools, no access log (what `taskhub api` does with WEB_CONCURRENCY=1)."""
    return python_module(
        "uvicorn",
        app_path,
        "--host=127.0.0.1",
        f"--port={port}",
        "--workers=1",
        "--loop=uvloop",
        "--http=httptools",
        "--no-access-log",
        "--log-level=warning",
    )


def start_http(
    stack: ExitStack,
    name: str,
    app_path: str,
    ready_path: str,
    env: dict[str, str],
    log_dir: Path,
) -> Server:
    from app.embedded import free_port

    port = free_port()
    child = spawn(stack, name, uvicorn_args(app_path, port), env, log_dir)
    base_url = f"http://127.0.0.1:{port}"
    wait_for_http(child, base_url + ready_path)
    return Server(child, base_url)


def ensure_smtp_sink() -> str:
    """Postfix's `smtp-sink`: the SMTP test server made for benchmarking mail clients (C; it
    answers every command and discards the mail). It stands in for the mail relay, which in
    production runs on another host, so it must take next to no CPU from the jobs it serves: on
    two cores the development sink (aiosmtpd) spent 0.8-1.5 ms of CPU per message, where a whole
    Celery no-op cost 2.0-2.2 ms, and smtp-sink spends 0.07 ms."""
    return ensure_tool("smtp-sink", "postfix")


def start_smtp_sink(stack: ExitStack, env: dict[str, str], run_dir: Path) -> tuple[Child, int]:
    """`smtp-sink` on a free port; returns it and the port (for SMTP_PORT)."""
    from app.embedded import free_port

    port = free_port()
    drop_root = ["-u", "nobody"] if os.geteuid() == 0 else []  # it refuses to run as root
    args = [ensure_smtp_sink(), *drop_root, f"127.0.0.1:{port}", "256"]
    sink = spawn(stack, "smtp-sink", args, env, run_dir)
    wait_for_port(sink, port)
    return sink, port


def start_taskhub_worker(stack: ExitStack, env: dict[str, str], log_dir: Path) -> Child:
    args = python_module("app.cli", "worker", "--concurrency=2", "--loglevel=WARNING")
    return spawn(stack, "taskhub-worker", args, env, log_dir)


def start_noop_worker(stack: ExitStack, env: dict[str, str], log_dir: Path) -> Child:
    """The bare Celery worker: same broker, pool, concurrency and flags as `taskhub worker`."""
    from bench.noop_celery import QUEUE

    args = python_module(
        "celery",
        "-A",
        "bench.noop_celery",
        "worker",
        "--concurrency=2",
        "--loglevel=WARNING",
        "--without-gossip",
        "--without-mingle",
        f"--queues={QUEUE}",
    )
    return spawn(stack, "noop-worker", args, env, log_dir)
