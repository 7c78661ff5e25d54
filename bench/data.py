"""The benchmark's users and tasks: seeded through app.seed (COPY), read back with psycopg."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import psycopg
from psycopg import sql

from bench.config import BASE_TASKS, WRITER_TASKS

PASSWORD = "bench-password-1"


@dataclass(frozen=True, slots=True)
class BenchUser:
    username: str
    id: uuid.UUID
    tasks: int


@dataclass(frozen=True, slots=True)
class Dataset:
    prefix: str  # every username of this run starts with it
    base: BenchUser  # 10,000 tasks: the GET cases
    writer: BenchUser  # POST and PATCH target
    scale: BenchUser  # the large user: scale case, cursor walk, OFFSET comparison
    seed_seconds: dict[str, float]


async def _seed_one(prefix: str, tasks: int) -> BenchUser:
    from app.seed import seed

    (owner_id,) = await seed(users=1, tasks_per_user=tasks, password=PASSWORD, prefix=prefix)
    return BenchUser(f"{prefix}_0", owner_id, tasks)


def seed_dataset(prefix: str, scale_tasks: int) -> Dataset:
    """Seed the three users (each `app.seed` call ends with ANALYZE), timing each."""
    seconds: dict[str, float] = {}
    users: dict[str, BenchUser] = {}
    for role, tasks in (("base", BASE_TASKS), ("writer", WRITER_TASKS), ("scale", scale_tasks)):
        started = time.perf_counter()
        users[role] = asyncio.run(_seed_one(f"{prefix}_{role}", tasks))
        seconds[role] = time.perf_counter() - started
    return Dataset(prefix, users["base"], users["writer"], users["scale"], seconds)


def task_versions(dsn: str, owner_id: uuid.UUID, limit: int) -> dict[str, int]:
    """`{task id: version}` for up to `limit` of the owner's tasks (ETag = `"<version>"`)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT id, version FROM tasks WHERE owner_id = %s ORDER BY id LIMIT %s",
            (owner_id, limit),
        ).fetchall()
    return {str(task_id): int(version) for task_id, version in rows}


def vacuum_analyze(dsn: str) -> float:
    """VACUUM (ANALYZE) every table that holds pages, as pgbench does before its runs, and return
    the seconds it took: the next run then measures the API, not autovacuum catching up with the
    rows that the seed or the last write case left behind (without it, the reads after the writes
    ran about a fifth slower).

    A table never written to is left alone, as autovacuum leaves it. ANALYZE would record it as
    empty, and a statement prepared against an empty table keeps a plan that scans it whole (its
    generic plan) until the next ANALYZE: the job tables, still empty at this step, had every
    welcome job's success mark read all of job_log for a minute or more of the job rounds, until
    autovacuum analyzed it (docs/SCALING.md)."""
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT n.nspname, c.relname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
            " AND pg_relation_size(c.oid) > 0"
        ).fetchall()
        if tables:
            names = sql.SQL(", ").join(sql.Identifier(schema, name) for schema, name in tables)
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(names))
    return time.perf_counter() - started


def server_version(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


def delete_bench_rows(dsn: str, prefix: str) -> None:
    """Remove this run's users (their tasks, tokens and outbox rows cascade) and job_log rows;
    used when the run borrowed a DATABASE_URL instead of its own embedded server."""
    pattern = prefix.replace("_", "\\_") + "\\_%"
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute(
            "DELETE FROM job_log WHERE job_id IN"
            " (SELECT 'welcome_email:' || id FROM users WHERE username LIKE %s)",
            (pattern,),
        )
        conn.execute("DELETE FROM users WHERE username LIKE %s", (pattern,))
