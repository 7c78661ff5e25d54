"""Bulk data for development and benchmarks (`taskhub seed`, `taskhub create-user`)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

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


#: Row attributes repeat every SHAPE_PERIOD rows of a user. Two pages whose first rows lie a multiple
#: of it apart hold rows of the same size: the benchmark's first page and its page after 500 hops of
#: 20 rows (10,000 rows in), which would otherwise differ by what the random draws put on each.
SHAPE_PERIOD = 1_000


@dataclass(frozen=True, slots=True)
class _Shape:
    status: str
    priority: int
    due_in_days: int | None
    tags: list[str]


@lru_cache(maxsize=1)
def _shapes() -> tuple[_Shape, ...]:
    rng = random.Random(42)
    shapes = []
    for _ in range(SHAPE_PERIOD):
        status = rng.choice(STATUSES)
        due_in_days = rng.randint(1, 60) if rng.random() < 0.6 else None
        shapes.append(
            _Shape(status, rng.randint(0, 3), due_in_days, rng.sample(TAGS, rng.randint(0, 2)))
        )
    return tuple(shapes)


def _task_records(
    owner_id: uuid.UUID, positions: range, newest: datetime
) -> list[tuple[object, ...]]:
    """The owner's tasks at `positions` (0 = newest, one second apart), titled with a fixed-width
    position so that titles do not grow with depth either."""
    shapes = _shapes()
    records: list[tuple[object, ...]] = []
    for position in positions:
        shape = shapes[position % SHAPE_PERIOD]
        created = newest - timedelta(seconds=position)
        due = created + timedelta(days=shape.due_in_days) if shape.due_in_days else None
        records.append(
            (
                uuid.uuid4(),
                owner_id,
                f"Task {position:07d} of {owner_id.hex[:6]}",
                "Seeded for development and benchmarks",
                shape.status,
                shape.priority,
                due,
                shape.tags,
                created,
                created,
                created if shape.status == "done" else None,
            )
        )
    return records


async def seed(
    *, users: int, tasks_per_user: int, password: str, prefix: str = "seed"
) -> list[uuid.UUID]:
    """Create users `{prefix}_0..` (kept if they exist) and give each `tasks_per_user` tasks."""
    hashed = await hash_password(password)
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
        newest = datetime.now(UTC)
        with typer.progressbar(length=total, label=f"seeding {total} tasks") as progress:
            for owner_id in owner_ids:
                for first in range(0, tasks_per_user, COPY_BATCH):
                    positions = range(first, min(first + COPY_BATCH, tasks_per_user))
                    records = _task_records(owner_id, positions, newest)
                    await conn.copy_records_to_table("tasks", records=records, columns=TASK_COLUMNS)
                    progress.update(len(positions))
        await conn.execute("ANALYZE tasks")
    finally:
        await conn.close()
    return owner_ids
