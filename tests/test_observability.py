"""Prometheus metrics and structured logs (SPEC §7)."""

from __future__ import annotations

import logging
import uuid

import orjson
import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.logs import JsonFormatter, TextFormatter
from app.middleware import request_id_var
from tests.factories import auth_headers, make_task, make_user


async def test_metrics_count_requests_by_route_template(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(session)
    task = await make_task(session, owner=user)
    response = await client.get(f"/tasks/{task.id}", headers=auth_headers(settings, user))
    assert response.status_code == 200
    metrics = (await client.get("/metrics")).text
    assert (
        'taskhub_http_requests_total{method="GET",route="/tasks/{task_id}",status="200"}' in metrics
    )
    assert str(task.id) not in metrics  # templates, never raw paths
    assert (
        'taskhub_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/tasks/{task_id}"}'
        in metrics
    )


async def test_metrics_report_jobs_outbox_and_pool(app: FastAPI, live_client: AsyncClient) -> None:
    """Job figures come from job_log as every worker committed them (not the test transaction)."""
    name = f"metrics.{uuid.uuid4().hex[:8]}"
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO job_log (job_id, name, status) VALUES (:id, :name, 'failed')"),
            {"id": f"{name}:1", "name": name},
        )
    try:
        metrics = (await live_client.get("/metrics")).text
    finally:
        async with app.state.engine.begin() as conn:
            await conn.execute(text("DELETE FROM job_log WHERE name = :name"), {"name": name})
    assert f'taskhub_jobs{{name="{name}",status="failed"}} 1.0' in metrics
    assert "taskhub_outbox_backlog " in metrics
    assert 'taskhub_db_pool_connections{state="checked_out"}' in metrics
    tasks_pool = app.state.tasks_pool.connections
    assert (
        f'taskhub_db_tasks_pool_connections{{state="open"}} {float(tasks_pool.get_size())}'
        in metrics
    )


async def test_access_log_carries_request_id_route_status_and_duration(
    client: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.access"):
        response = await client.get("/health", headers={"X-Request-ID": "trace-me-42"})
    assert response.status_code == 200
    (record,) = [r for r in caplog.records if r.name == "app.access"]
    assert record.route == "/health"  # type: ignore[attr-defined]
    assert record.status == 200  # type: ignore[attr-defined]
    assert record.duration_ms >= 0  # type: ignore[attr-defined]


def test_json_log_lines_are_json_with_request_id_and_extras() -> None:
    record = logging.makeLogRecord(
        {"name": "app.jobs", "levelname": "INFO", "msg": "job %s", "args": ("done",)}
    )
    record.job_id = "welcome_email:1"
    record.attempt = 2
    token = request_id_var.set("req-7")
    try:
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)
    entry = orjson.loads(line)
    assert entry["message"] == "job done"
    assert entry["request_id"] == "req-7"
    assert entry["job_id"] == "welcome_email:1"
    assert entry["attempt"] == 2
    assert entry["level"] == "INFO"


def test_text_log_lines_are_readable_with_extras() -> None:
    record = logging.makeLogRecord(
        {"name": "app.access", "levelname": "INFO", "msg": "GET /health 200"}
    )
    record.status = 200
    line = TextFormatter().format(record)
    assert "GET /health 200" in line
    assert "status=200" in line
