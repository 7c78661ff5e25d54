"""The FastAPI application: lifespan (engine, Redis), middleware, routers, error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from redis.asyncio import Redis

from app import heap
from app.auth.passwords import return_hash_memory_to_the_os
from app.auth.router import router as auth_router
from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker, create_tasks_pool
from app.errors import Problem, install_error_handlers
from app.health import APP_VERSION
from app.health import router as health_router
from app.jobs.outbox import OutboxPublisher
from app.jobs.router import router as jobs_router
from app.logs import configure_logging
from app.metrics import MetricsMiddleware
from app.metrics import router as metrics_router
from app.middleware import RequestContextMiddleware
from app.tasks.router import router as tasks_router
from app.workers.celery_app import create_celery


def create_redis(settings: Settings) -> Redis:
    return Redis.from_url(
        settings.require_redis_url(),
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        decode_responses=True,
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    return_hash_memory_to_the_os()
    app.state.engine = create_engine(settings)
    app.state.sessionmaker = create_sessionmaker(app.state.engine)
    app.state.tasks_pool = await create_tasks_pool(settings, app.state.engine)
    app.state.redis = create_redis(settings)
    app.state.outbox_publisher = OutboxPublisher(create_celery(settings), app.state.engine)
    app.state.outbox_publisher.start()
    try:
        with heap.tuned_for_serving():
            yield
    finally:
        await app.state.outbox_publisher.stop()
        await app.state.redis.aclose()
        await app.state.tasks_pool.close()
        await app.state.engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    app = FastAPI(
        title=settings.app_name,
        version=APP_VERSION,
        lifespan=lifespan,
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        redirect_slashes=False,
        debug=settings.app_debug,
        # Metrics are Prometheus (app/metrics.py); FastAPI's OpenTelemetry hooks would only
        # look for a provider on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(tasks_router)  # first: routes are matched in order, and /tasks is hot
    app.include_router(auth_router)
    app.include_router(jobs_router)
    app.include_router(health_router)
    app.include_router(metrics_router)
    _register_problem_schema(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=False,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "If-None-Match",
                "Idempotency-Key",
            ],
            expose_headers=[
                "ETag",
                "Location",
                "X-Request-ID",
                "Retry-After",
                "Idempotent-Replayed",
            ],
        )
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    return app


def _register_problem_schema(app: FastAPI) -> None:
    """Make `#/components/schemas/Problem` exist for the problem+json responses."""
    original = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema is None:
            schema = original()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.setdefault(
                "Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


app = create_app()
