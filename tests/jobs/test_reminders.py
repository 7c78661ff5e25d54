"""Reminders: one mail per (task, due_at), however many beat schedulers sweep at once."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.jobs.conftest import job_row, make_committed_user
from tests.jobs.stack import JobStack, wait_until


def _make_task(
    db: Engine, owner_id: uuid.UUID, *, due_at: datetime | None, status: str = "todo"
) -> uuid.UUID:
    task_id = uuid.uuid4()
    with db.connect() as conn:
        conn.execute(
            text(
                "INSERT INTO tasks (id, owner_id, title, status, due_at) VALUES (:id, :o, :t, :s, :d)"
            ),
            {
                "id": task_id,
                "o": owner_id,
                "t": f"Task {task_id.hex[:6]}",
                "s": status,
                "d": due_at,
            },
        )
    return task_id


def _reminder_id(task_id: uuid.UUID, due_at: datetime) -> str:
    return f"reminder:{task_id}:{int(due_at.timestamp())}"


def test_two_beats_send_one_reminder_per_task_and_due_date(stack: JobStack, db: Engine) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    owner = make_committed_user(db, email="remind@example.com")
    silent_owner = make_committed_user(db, email=None)
    due_soon = [_make_task(db, owner, due_at=now + timedelta(minutes=10 + i)) for i in range(3)]
    done = _make_task(db, owner, due_at=now + timedelta(minutes=5), status="done")
    far = _make_task(db, owner, due_at=now + timedelta(days=3))
    no_email = _make_task(db, silent_owner, due_at=now + timedelta(minutes=5))
    stack.start_worker(concurrency=2)
    stack.start_beat()
    stack.start_beat()

    expected = {
        _reminder_id(task_id, now + timedelta(minutes=10 + i)) for i, task_id in enumerate(due_soon)
    }
    for job_id in expected:
        wait_until(
            lambda j=job_id: (job_row(db, j) or {}).get("status") == "succeeded",
            timeout=40,
            what=job_id,
        )
    time.sleep(2)  # several more sweeps by both schedulers
    reminders = [m for m in stack.messages() if m["subject"].startswith("Reminder:")]
    assert sorted(m["message_id"] for m in reminders) == sorted(
        f"<{job_id.replace(':', '.')}@taskhub>" for job_id in expected
    )
    with db.connect() as conn:
        rows = (
            conn.execute(
                text(
                    "SELECT job_id FROM outbox WHERE name = 'tasks.reminder' AND owner_id = ANY(:owners)"
                ),
                {"owners": [owner, silent_owner]},
            )
            .scalars()
            .all()
        )
    assert set(rows) == expected
    assert not any(str(task_id) in row for row in rows for task_id in (done, far, no_email))

    moved_to = now + timedelta(minutes=30)
    with db.connect() as conn:
        conn.execute(
            text("UPDATE tasks SET due_at = :d WHERE id = :id"), {"d": moved_to, "id": due_soon[0]}
        )
    moved_id = _reminder_id(due_soon[0], moved_to)
    wait_until(
        lambda: (job_row(db, moved_id) or {}).get("status") == "succeeded",
        timeout=40,
        what=moved_id,
    )
    time.sleep(1)
    ids = stack.message_ids()
    assert ids.count(f"<{moved_id.replace(':', '.')}@taskhub>") == 1
    assert len([m for m in stack.messages() if m["to"] == "remind@example.com"]) == 4
