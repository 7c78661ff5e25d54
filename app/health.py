"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import logging
from importlib.metadata import version
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from sqlalchemy import text

from app.auth.deps import SettingsDep

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])
APP_VERSION = version("taskhub")
PROBE_TIMEOUT_SECONDS = 2.0


class Health(BaseModel):
    status: Literal["ok"]
    app: str
    version: str


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, Literal["ok", "degraded", "unavailable"]]


@router.get("/health", summary="Liveness")
async def health(settings: SettingsDep) -> Health:
    """The process is up. Touches nothing else, so a database outage does not restart it."""
    return Health(status="ok", app=settings.app_name, version=APP_VERSION)


@router.get(
    "/ready",
    summary="Readiness",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "PostgreSQL is unreachable"}},
)
async def ready(request: Request) -> Response:
    """503 while PostgreSQL is unreachable. Redis is reported but never fails readiness: jobs
    wait in the outbox and login rate limiting fails open while it is down."""
    database = await _check_database(request)
    redis = await _check_redis(request)
    ok = database == "ok"
    body = Readiness(
        status="ok" if ok else "unavailable", checks={"database": database, "redis": redis}
    )
    return Response(
        body.model_dump_json(), status_code=200 if ok else 503, media_type="application/json"
    )


async def _check_database(request: Request) -> Literal["ok", "unavailable"]:
    try:
        async with (
            asyncio.timeout(PROBE_TIMEOUT_SECONDS),
            request.app.state.engine.connect() as conn,
        ):
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; the reason goes to the log
        logger.warning("readiness: database unavailable: %s", exc)
        return "unavailable"
    return "ok"


async def _check_redis(request: Request) -> Literal["ok", "degraded"]:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            await request.app.state.redis.ping()
    except Exception as exc:  # Redis being down degrades, it does not fail readiness
        logger.warning("readiness: redis degraded: %s", exc)
        return "degraded"
    return "ok"
