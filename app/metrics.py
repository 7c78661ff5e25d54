"""Prometheus metrics (prometheus-client) and the per-request access log.

HTTP metrics are labelled by route template (`/tasks/{task_id}`), never by raw path, so their
cardinality stays bounded. Job and outbox figures are read from PostgreSQL at scrape time: that is
where every worker process records its outcomes (job_log), so one scrape of any API replica sees
all of them, with no exporter per worker.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db import TasksPool

logger = logging.getLogger(__name__)
access_log = logging.getLogger("app.access")

REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "taskhub_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=REGISTRY
)
LATENCY = Histogram(
    "taskhub_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=REGISTRY,
)


@functools.cache
def _series(method: str, route: str, status: int) -> tuple[Counter, Histogram]:
    """The labelled children for one (method, route template, status): `labels()` validates and
    locks on every call, and the set is small (routes are templates, never raw paths)."""
    return REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            count, latency = _series(method, route, status)
            count.inc()
            latency.observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %s",
                    method,
                    route,
                    status,
                    extra={
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )


class DatabaseCollector(Collector):
    """Jobs by name and status, outbox backlog and connection-pool use, read at scrape time."""

    def __init__(self) -> None:
        self.snapshot: dict[str, list[tuple[tuple[str, ...], float]]] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        specs = {
            "jobs": ("taskhub_jobs", "Jobs in job_log by name and status", ["name", "status"]),
            "outbox": ("taskhub_outbox_backlog", "Outbox entries not yet done", []),
            "pool": ("taskhub_db_pool_connections", "API connection pool by state", ["state"]),
            "tasks_pool": (
                "taskhub_db_tasks_pool_connections",
                "API /tasks pool by state",
                ["state"],
            ),
        }
        for key, (name, documentation, labels) in specs.items():
            family = GaugeMetricFamily(name, documentation, labels=labels)
            for label_values, value in self.snapshot.get(key, []):
                family.add_metric(list(label_values), value)
            yield family

    async def refresh(self, engine: AsyncEngine, tasks_pool: TasksPool) -> None:
        pool = engine.pool
        self.snapshot["pool"] = [
            (("checked_out",), float(pool.checkedout())),  # type: ignore[attr-defined]
            (("size",), float(pool.size())),  # type: ignore[attr-defined]
        ]
        connections = tasks_pool.connections
        self.snapshot["tasks_pool"] = [
            (("checked_out",), float(connections.get_size() - connections.get_idle_size())),
            (("open",), float(connections.get_size())),
        ]
        async with engine.connect() as conn:
            jobs = await conn.execute(
                text("SELECT name, status, count(*) FROM job_log GROUP BY 1, 2")
            )
            self.snapshot["jobs"] = [((row[0], row[1]), float(row[2])) for row in jobs]
            backlog = await conn.scalar(text("SELECT count(*) FROM outbox WHERE done_at IS NULL"))
            self.snapshot["outbox"] = [((), float(backlog or 0))]


DATABASE_COLLECTOR = DatabaseCollector()
REGISTRY.register(DATABASE_COLLECTOR)


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    try:
        await DATABASE_COLLECTOR.refresh(request.app.state.engine, request.app.state.tasks_pool)
    except Exception as exc:  # HTTP metrics still matter while the database is down
        logger.warning("metrics: database figures unavailable: %s", exc)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
