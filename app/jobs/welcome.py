"""`auth.welcome_email`: greet a user who registered with an email address."""

from __future__ import annotations

from typing import Any

from celery import Task
from sqlalchemy import Connection

from app.config import get_settings
from app.jobs.mail import send_mail
from app.jobs.names import WELCOME_EMAIL
from app.jobs.runner import fetch_one, run_job
from app.workers.celery_app import celery_app

_RECIPIENT = "SELECT username, email FROM users WHERE id = %(id)s AND is_active"


def send_welcome(conn: Connection, job_id: str, user_id: str) -> dict[str, Any]:
    user = fetch_one(conn, _RECIPIENT, {"id": user_id})
    if user is None or not user.email:
        return {"skipped": "user gone, inactive or without email"}
    sent = send_mail(
        get_settings(),
        to=user.email,
        subject="Welcome to TaskHub",
        body=f"Hello {user.username},\n\nyour TaskHub account is ready.\n",
        job_id=job_id,
    )
    return {"message_id": sent}


@celery_app.task(name=WELCOME_EMAIL, bind=True)
def welcome_email(self: Task[Any, Any], user_id: str) -> dict[str, Any]:
    job_id = str(self.request.id)
    return run_job(
        self, WELCOME_EMAIL, lambda conn: send_welcome(conn, job_id, user_id), read_only=True
    )
