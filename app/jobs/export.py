"""`tasks.export`: a snapshot of one user's tasks as JSON Lines, stored gzip-compressed in
`job_artifacts` in the same transaction that marks the job succeeded."""

from __future__ import annotations

import gzip
import io
from typing import Any

from celery import Task
from sqlalchemy import Connection, text

from app.jobs.names import EXPORT
from app.jobs.runner import run_job
from app.tasks.repository import TASK_JSON
from app.workers.celery_app import celery_app

FETCH_BATCH = 1000


def write_export(conn: Connection, job_id: str, user_id: str) -> dict[str, Any]:
    buffer = io.BytesIO()
    count = 0
    rows = conn.execute(
        text(
            f"SELECT {TASK_JSON} AS body FROM tasks t JOIN users u ON u.id = t.owner_id"
            " WHERE t.owner_id = :user_id ORDER BY t.created_at DESC, t.id DESC"
        ).execution_options(yield_per=FETCH_BATCH),
        {"user_id": user_id},
    )
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=6) as archive:
        for row in rows:
            archive.write(row.body.encode() + b"\n")
            count += 1
    conn.execute(
        text(
            "INSERT INTO job_artifacts (job_id, content, row_count) VALUES (:job_id, :content, :count)"
            " ON CONFLICT (job_id) DO UPDATE SET content = excluded.content, row_count = excluded.row_count"
        ),
        {"job_id": job_id, "content": buffer.getvalue(), "count": count},
    )
    return {"count": count}


@celery_app.task(name=EXPORT, bind=True)
def export_tasks(self: Task[Any, Any], user_id: str) -> dict[str, Any]:
    return run_job(self, EXPORT, lambda conn: write_export(conn, str(self.request.id), user_id))
