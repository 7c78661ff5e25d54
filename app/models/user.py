from __future__ import annotations

import uuid

from sqlalchemy import Boolean, CheckConstraint, Index, String, Uuid, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin


class User(TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        # Usernames are unique whatever their case: "Alice" and "alice" are one account.
        Index("uq_users_username_lower", func.lower(text("username")), unique=True),
        CheckConstraint("username ~ '^[A-Za-z0-9_.-]{3,50}$'", name="username_format"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(50), nullable=False)
    email: Mapped[str | None] = mapped_column(String(320))
    hashed_password: Mapped[str] = mapped_column(String(255), nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
