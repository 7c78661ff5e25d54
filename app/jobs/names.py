"""Job names (`domain.event`) and their deterministic job ids (SPEC §6)."""

from __future__ import annotations

import uuid

WELCOME_EMAIL = "auth.welcome_email"
REMINDER = "tasks.reminder"
EXPORT = "tasks.export"


def welcome_email_id(user_id: uuid.UUID) -> str:
    return f"welcome_email:{user_id}"


def export_id(user_id: uuid.UUID, request_id: str) -> str:
    return f"export:{user_id}:{request_id}"
