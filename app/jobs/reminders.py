"""Due-date reminders.

`tasks.schedule_reminders` (on beat) writes one outbox row per open task whose `due_at` falls
within REMINDER_LEAD_MINUTES, with job id `reminder:{task_id}:{due_at_epoch}`. Any number of beat
processes may sweep at once: the outbox's unique job_id keeps one row, and job_log keeps one run, so
each (task, due_at) gets one mail. Moving `due_at` makes a new job id, so a new reminder.
"""

from __future__ import annotations

from typing import Any

from celery import Task
from sqlalchemy import Connection, text

from app.config import get_settings
from app.jobs.mail import send_mail
from app.jobs.names import REMINDER
from app.jobs.relay import publish_pending
from app.jobs.runner import fetch_one, run_job
from app.workers.celery_app import celery_app, worker_session


@celery_app.task(name="tasks.schedule_reminders")
def schedule_reminders() -> int:
    """Enqueue reminders for tasks coming due; returns how many new ones were enqueued."""
    settings = get_settings()
    with worker_session() as session, session.begin():
        enqueued = session.execute(
            text(
                "INSERT INTO outbox (job_id, name, kwargs, owner_id)"
                " SELECT 'reminder:' || t.id || ':' || extract(epoch FROM t.due_at)::bigint, :name,"
                " jsonb_build_object('task_id', t.id, 'due_at_epoch', extract(epoch FROM t.due_at)::bigint),"
                " t.owner_id"
                " FROM tasks t JOIN users u ON u.id = t.owner_id"
                " WHERE t.status <> 'done' AND t.due_at IS NOT NULL"
                " AND t.due_at BETWEEN now() AND now() + make_interval(mins => :lead)"
                " AND u.is_active AND u.email IS NOT NULL"
                " ON CONFLICT (job_id) DO NOTHING"
            ),
            {"name": REMINDER, "lead": settings.reminder_lead_minutes},
        ).rowcount  # type: ignore[attr-defined]
    if enqueued:
        publish_pending()
    return int(enqueued)


@celery_app.task(name=REMINDER, bind=True)
def reminder(self: Task[Any, Any], task_id: str, due_at_epoch: int) -> dict[str, Any]:
    def body(conn: Connection) -> dict[str, Any]:
        row = fetch_one(
            conn,
            "SELECT t.title, t.status, extract(epoch FROM t.due_at)::bigint AS due_epoch,"
            " t.due_at, u.email FROM tasks t JOIN users u ON u.id = t.owner_id AND u.is_active"
            " WHERE t.id = %(task_id)s",
            {"task_id": task_id},
        )
        if row is None or row.status == "done" or row.due_epoch != due_at_epoch or not row.email:
            return {"skipped": "task gone, done, rescheduled or owner without email"}
        sent = send_mail(
            get_settings(),
            to=row.email,
            subject=f"Reminder: {row.title}",
            body=f'Your task "{row.title}" is due at {row.due_at.isoformat()}.\n',
            job_id=str(self.request.id),
        )
        return {"message_id": sent}

    return run_job(self, REMINDER, body, read_only=True)
