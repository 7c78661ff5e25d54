from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class JobArtifact(Base):
    """A file a job produced (an export), written in the transaction that marks the job succeeded."""

    __tablename__ = "job_artifacts"

    job_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("job_log.job_id", ondelete="CASCADE"), primary_key=True
    )
    content: Mapped[bytes] = mapped_column(
        LargeBinary, nullable=False
    )  # gzip-compressed JSON Lines
    row_count: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
