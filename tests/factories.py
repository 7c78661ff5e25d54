"""Typed, keyword-only factories that write straight to the database."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.passwords import hash_password
from app.auth.tokens import encode_token
from app.config import Settings
from app.models import Task, User

DEFAULT_PASSWORD = "correct horse battery"


async def make_user(
    session: AsyncSession,
    *,
    username: str | None = None,
    password: str = DEFAULT_PASSWORD,
    email: str | None = None,
    is_active: bool = True,
) -> User:
    user = User(
        id=uuid.uuid4(),
        username=username or f"user_{uuid.uuid4().hex[:12]}",
        email=email,
        hashed_password=await hash_password(password),
        is_active=is_active,
    )
    session.add(user)
    await session.flush()
    return user


async def make_task(
    session: AsyncSession,
    *,
    owner: User,
    title: str = "A task",
    description: str = "",
    status: str = "todo",
    priority: int = 0,
    due_at: datetime | None = None,
    tags: list[str] | None = None,
    created_at: datetime | None = None,
) -> Task:
    values = {
        "id": uuid.uuid4(),
        "owner_id": owner.id,
        "title": title,
        "description": description,
        "status": status,
        "priority": priority,
        "due_at": due_at,
        "tags": tags or [],
    }
    if created_at is not None:
        values |= {"created_at": created_at, "updated_at": created_at}
    task = (await session.execute(insert(Task).values(**values).returning(Task))).scalar_one()
    return task


def auth_headers(
    settings: Settings, user: User, *, lifetime: timedelta = timedelta(minutes=5)
) -> dict[str, str]:
    token, _ = encode_token(
        settings, user_id=user.id, token_type="access", jti=uuid.uuid4(), lifetime=lifetime
    )
    return {"Authorization": f"Bearer {token}"}
