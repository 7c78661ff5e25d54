"""The real PostgreSQL and Redis a test run talks to: `TEST_DATABASE_URL`/`TEST_REDIS_URL` when set,
else embedded servers started for the run. Each run (and each xdist worker) gets a fresh database."""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from app.embedded import EmbeddedPostgres, EmbeddedRedis

STATE = Path(".taskhub")


@dataclass
class TestServices:
    __test__ = False  # a helper, not a test class
    database_url: str  # postgresql+asyncpg://.../<fresh database>
    redis_url: str
    embedded_pg: EmbeddedPostgres | None = None
    embedded_redis: EmbeddedRedis | None = None
    databases: list[str] = field(default_factory=list)

    def admin_dsn(self) -> str:
        return (
            make_url(self.database_url)
            .set(drivername="postgresql", database="postgres")
            .render_as_string(hide_password=False)
        )

    def create_database(self, prefix: str = "taskhub_test") -> str:
        """A new empty database; returns its asyncpg URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return make_url(self.database_url).set(database=name).render_as_string(hide_password=False)

    def stop(self) -> None:
        try:
            with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
                for name in self.databases:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            if self.embedded_redis:
                self.embedded_redis.stop()
            if self.embedded_pg:
                self.embedded_pg.stop()
                shutil.rmtree(self.embedded_pg.data_dir.parent, ignore_errors=True)


def start(worker: str) -> TestServices:
    """Servers of this run live in their own folder, so parallel runs never share one."""
    run_dir = STATE / "test-runs" / f"{os.getpid()}-{worker}"
    pg = redis = None
    base_url = os.environ.get("TEST_DATABASE_URL")
    if not base_url:
        pg = EmbeddedPostgres(run_dir / "pg", durable=False)
        pg.start()
        base_url = pg.url("postgres")
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        redis = EmbeddedRedis(run_dir / "redis", persistent=False)
        redis.start()
        redis_url = redis.url
    services = TestServices(base_url, redis_url, pg, redis)
    services.database_url = services.create_database()
    return services
