"""Every ORM model, imported here so `Base.metadata` knows them all (Alembic reads it)."""

from app.models.base import Base
from app.models.idempotency_key import IdempotencyKey
from app.models.job_artifact import JobArtifact
from app.models.job_log import JobLog
from app.models.outbox import OutboxEntry
from app.models.refresh_token import RefreshToken
from app.models.task import Task
from app.models.user import User

__all__ = [
    "Base",
    "IdempotencyKey",
    "JobArtifact",
    "JobLog",
    "OutboxEntry",
    "RefreshToken",
    "Task",
    "User",
]
