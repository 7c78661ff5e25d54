from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class OutboxEntry(Base):
    """A job publication, committed in the same transaction as the change that causes it.

    `done_at` is set in the transaction that ends the job (succeeded or failed), so the relay can
    republish anything published but not done after a timeout: a lost broker message is recovered.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "run_at", postgresql_where=text("done_at IS NULL")),
        Index("ix_outbox_owner_id", "owner_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE")
    )
    run_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    publish_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
