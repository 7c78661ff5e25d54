"""The floor: TaskHub's own GET /tasks endpoint code as a bare FastAPI route.

It calls `app.tasks.router.list_tasks` (the query model, a connection from the same asyncpg
pool settings, the same SQL and page rendering), with the same garbage-collector settings and
the token checked in the route, and nothing else: no middleware (request id, security headers,
body limit, metrics, error handling), no dependencies, no other routes. Its share of the
ceiling is about the most a FastAPI app gets out of this endpoint's work on this machine; the
gap between it and TaskHub's GET /tasks is what TaskHub's middleware and dependencies cost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from app import heap
from app.auth.tokens import decode_token
from app.config import get_settings
from app.db import create_engine, create_tasks_pool
from app.tasks import router as tasks


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    engine = create_engine(settings)  # only read for its connection options
    app.state.settings = settings
    app.state.tasks_pool = await create_tasks_pool(settings, engine)
    with heap.tuned_for_serving():  # as TaskHub's lifespan: the comparison is about the code
        yield
    await app.state.tasks_pool.close()
    await engine.dispose()


app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)


@app.get("/ready")
async def ready() -> dict[str, bool]:
    return {"ok": True}


@app.get("/tasks")
async def list_tasks(request: Request) -> Response:
    token = request.headers["authorization"].removeprefix("Bearer ")
    user_id = decode_token(request.app.state.settings, token, expected_type="access").user_id
    return await tasks.list_tasks(request, user_id, await tasks.list_query(request))
