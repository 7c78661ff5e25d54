"""All SQL about users and refresh tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import RefreshToken, User


@dataclass(frozen=True, slots=True)
class Credentials:
    id: uuid.UUID
    hashed_password: str


async def insert_user(
    session: AsyncSession, *, username: str, email: str | None, hashed_password: str
) -> User | None:
    """Insert a user; None when the username is taken in any case (the unique index decides)."""
    statement = (
        insert(User)
        .values(id=uuid.uuid4(), username=username, email=email, hashed_password=hashed_password)
        .on_conflict_do_nothing()
        .returning(User)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def get_active_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    statement = select(User).where(User.id == user_id, User.is_active)
    return (await session.execute(statement)).scalar_one_or_none()


async def get_credentials(session: AsyncSession, username: str) -> Credentials | None:
    statement = select(User.id, User.hashed_password).where(
        func.lower(User.username) == username.lower(), User.is_active
    )
    row = (await session.execute(statement)).one_or_none()
    return Credentials(row.id, row.hashed_password) if row else None


async def set_password_hash(
    session: AsyncSession, user_id: uuid.UUID, *, verified: str, replacement: str
) -> None:
    """Replace the hash a login just verified, unless it changed in the meantime."""
    await session.execute(
        update(User)
        .where(User.id == user_id, User.hashed_password == verified)
        .values(hashed_password=replacement, updated_at=func.now())
    )


async def insert_refresh_token(
    session: AsyncSession,
    *,
    jti: uuid.UUID,
    user_id: uuid.UUID,
    family_id: uuid.UUID,
    expires_at: datetime,
) -> None:
    await session.execute(
        insert(RefreshToken).values(
            jti=jti, user_id=user_id, family_id=family_id, expires_at=expires_at
        )
    )


async def lock_refresh_token(session: AsyncSession, jti: uuid.UUID) -> RefreshToken | None:
    """Fetch a refresh token row FOR UPDATE: concurrent refreshes of one token queue up here, so
    only the first can rotate it and the second sees it already replaced."""
    statement = select(RefreshToken).where(RefreshToken.jti == jti).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def mark_replaced(session: AsyncSession, jti: uuid.UUID, *, replaced_by: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.jti == jti)
        .values(revoked_at=func.now(), replaced_by=replaced_by)
    )


async def revoke_family(session: AsyncSession, family_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
