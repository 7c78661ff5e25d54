from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin

#: Sort expressions for `due_at`: tasks without a due date come last in both directions.
DUE_AT_ASC_KEY = "coalesce(due_at, 'infinity'::timestamptz)"
DUE_AT_DESC_KEY = "coalesce(due_at, '-infinity'::timestamptz)"


class Task(TimestampMixin, Base):
    __tablename__ = "tasks"
    __table_args__ = (
        # One index per offered sort, each (owner_id, sort key, id): every page is a range scan.
        Index("ix_tasks_owner_created", "owner_id", text("created_at DESC"), text("id DESC")),
        Index("ix_tasks_owner_due_asc", "owner_id", text(DUE_AT_ASC_KEY), "id"),
        Index(
            "ix_tasks_owner_due_desc", "owner_id", text(f"{DUE_AT_DESC_KEY} DESC"), text("id DESC")
        ),
        Index("ix_tasks_owner_priority", "owner_id", text("priority DESC"), text("id DESC")),
        Index("ix_tasks_owner_updated", "owner_id", text("updated_at DESC"), text("id DESC")),
        # Reminder sweep: open tasks by due date.
        Index(
            "ix_tasks_due_open",
            "due_at",
            postgresql_where=text("status <> 'done' AND due_at IS NOT NULL"),
        ),
        CheckConstraint("status IN ('todo', 'in_progress', 'done')", name="status_valid"),
        CheckConstraint("priority BETWEEN 0 AND 3", name="priority_range"),
        CheckConstraint("char_length(title) BETWEEN 3 AND 100", name="title_length"),
        CheckConstraint("char_length(description) <= 500", name="description_length"),
        CheckConstraint("cardinality(tags) <= 20", name="tags_count"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    title: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="todo")
    priority: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="0")
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    tags: Mapped[list[str]] = mapped_column(
        ARRAY(String(50)), nullable=False, server_default=text("'{}'::varchar[]")
    )
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
