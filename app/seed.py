"""Bulk data for development and benchmarks (`taskhub seed`, `taskhub create-user`)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import typer
from sqlalchemy.engine import make_url

from app.auth import service as auth_service
from app.auth.passwords import hash_password
from app.auth.schemas import RegisterRequest
from app.config import get_settings
from app.db import create_engine, create_sessionmaker, session_scope

COPY_BATCH = 50_000
TASK_COLUMNS = (
    "id",
    "owner_id",
    "title",
    "description",
    "status",
    "priority",
    "due_at",
    "tags",
    "created_at",
    "updated_at",
    "completed_at",
)
STATUSES = ("todo", "in_progress", "done")
TAGS = ("home", "work", "errand", "health", "money", "study")


async def create_user(*, username: str, password: str, email: str | None) -> uuid.UUID:
    request = RegisterRequest(username=username, password=password, email=email)
    engine = create_engine(get_settings())
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            user = await auth_service.register(session, request)
        return user.id
    finally:
        await engine.dispose()


def _asyncpg_dsn() -> str:
    url = make_url(get_settings().require_database_url()).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _task_records(
    owner_id: uuid.UUID, count: int, start: datetime, rng: random.Random
) -> list[tuple[object, ...]]:
    records: list[tuple[object, ...]] = []
    for index in range(count):
        created = start - timedelta(seconds=index)
        status = rng.choice(STATUSES)
        due = created + timedelta(days=rng.randint(1, 60)) if rng.random() < 0.6 else None
        records.append(
            (
                uuid.uuid4(),
                owner_id,
                f"Task {index} of {owner_id.hex[:6]}",
                "Seeded for development and benchmarks",
                status,
                rng.randint(0, 3),
                due,
                rng.sample(TAGS, rng.randint(0, 2)),
                created,
                created,
                created if status == "done" else None,
            )
        )
    return records


async def seed(
    *, users: int, tasks_per_user: int, password: str, prefix: str = "seed"
) -> list[uuid.UUID]:
    """Create users `{prefix}_0..` (kept if they exist) and give each `tasks_per_user` tasks."""
    hashed = await hash_password(password)
    rng = random.Random(42)
    conn = await asyncpg.connect(_asyncpg_dsn())
    owner_ids: list[uuid.UUID] = []
    try:
        for index in range(users):
            owner_id = await conn.fetchval(
                "INSERT INTO users (id, username, hashed_password) VALUES ($1, $2, $3)"
                " ON CONFLICT (lower(username)) DO UPDATE SET updated_at = now() RETURNING id",
                uuid.uuid4(),
                f"{prefix}_{index}",
                hashed,
            )
            owner_ids.append(owner_id)
        total = users * tasks_per_user
        start = datetime.now(UTC)
        with typer.progressbar(length=total, label=f"seeding {total} tasks") as progress:
            for owner_id in owner_ids:
                remaining = tasks_per_user
                while remaining:
                    batch = min(remaining, COPY_BATCH)
                    offset = tasks_per_user - remaining
                    records = _task_records(owner_id, batch, start - timedelta(seconds=offset), rng)
                    await conn.copy_records_to_table("tasks", records=records, columns=TASK_COLUMNS)
                    remaining -= batch
                    progress.update(batch)
        await conn.execute("ANALYZE tasks")
    finally:
        await conn.close()
    return owner_ids
