"""The async engine, the request session and its transaction rules; and the /tasks pool.

The session dependency owns the transaction: it commits when the endpoint returns and rolls back when
it raises. Services and repositories only flush. Callbacks registered with `after_commit` run once the
commit succeeded (the outbox uses this to publish jobs at once without ever publishing a rollback).
The /tasks endpoints use no session: they run on bare asyncpg connections (`tasks_connection`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util import await_
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty

from app.config import Settings
from app.errors import AppError

AfterCommit = Callable[[AsyncSession], None]


class _ArrivalOrderQueue(AsyncAdaptedQueue[Any]):
    """SQLAlchemy's asyncio pool queue, serving waiters in arrival order.

    The stock queue puts a returned connection back and wakes the longest waiter, but a request
    that asks in the meantime takes the connection first, and the waiter queues again at the
    back (as asyncpg's pool does; see TasksPool). Here a returned connection goes straight to
    the longest waiter, so the queue holds connections only while nobody waits."""

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._waiting: deque[asyncio.Future[Any]] = deque()

    def put_nowait(self, item: Any) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(item)
                return
        super().put_nowait(item)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            if not block:
                raise Empty() from None
        return await_(self._handed_over(timeout))

    async def _handed_over(self, timeout: float | None) -> Any:
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                return await waiter
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():  # handed over as the wait ran out
                return waiter.result()
            raise Empty() from None
        except BaseException:
            if waiter.done() and not waiter.cancelled():  # pass it on rather than lose it
                self.put_nowait(waiter.result())
            raise
        finally:
            if waiter in self._waiting:
                self._waiting.remove(waiter)


class _ArrivalOrderPool(AsyncAdaptedQueuePool):
    _queue_class = _ArrivalOrderQueue


def create_engine(settings: Settings) -> AsyncEngine:
    return create_async_engine(
        settings.require_database_url(),
        echo=settings.sql_echo,
        poolclass=_ArrivalOrderPool,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=False,
        pool_timeout=settings.db_connect_timeout_seconds,
        connect_args=connect_args(settings),
    )


def connect_args(settings: Settings) -> dict[str, Any]:
    """asyncpg options: bounded connects and statements, UTC, and a prepared-statement cache.
    The client-side timeout backs up the server's statement_timeout by a second; with
    DB_STATEMENT_TIMEOUT_MS=0 (no limit) there is none either."""
    statement_timeout = settings.db_statement_timeout_ms
    return {
        "timeout": settings.db_connect_timeout_seconds,
        "command_timeout": statement_timeout / 1000 + 1 if statement_timeout else None,
        "server_settings": {
            "timezone": "UTC",
            "statement_timeout": str(statement_timeout),
            "application_name": "taskhub-api",
        },
    }


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` after this request's transaction commits; drop it on rollback."""
    session.info.setdefault("after_commit", []).append(callback)


async def end_read(session: AsyncSession) -> None:
    """End a transaction that has only read, returning its connection to the pool; the session
    starts a new one on its next statement. For a service that must wait (a password hash)
    between reading and writing, so the wait does not hold a pooled connection."""
    if session.in_transaction() and not (session.new or session.dirty or session.deleted):
        await session.commit()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    publisher = request.app.state.outbox_publisher
    async with session_scope(request.app.state.sessionmaker) as session:
        after_commit(session, publisher.publish_committed)
        yield session


@asynccontextmanager
async def session_scope(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit at the end, roll back on error, then run after-commit callbacks."""
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except AppError as exc:
            await (session.commit() if exc.keeps_changes else session.rollback())
            raise
        except BaseException:
            await session.rollback()
            raise
        callbacks: list[AfterCommit] = session.info.pop("after_commit", [])
        for callback in callbacks:
            callback(session)


@dataclass(frozen=True, slots=True)
class TasksPool:
    """The /tasks endpoints' connections: asyncpg's pool, handed out in arrival order.

    asyncpg gives a released connection to whichever request asks next, not to the one that has
    waited longest: a waiter it wakes can lose the connection to a newcomer and queue again at
    the back (MagicStack/asyncpg#1247). With more requests in flight than connections, a few
    requests at a time starved: in the benchmark, GET /tasks had a p99 of 80-180 ms against a
    p50 of 10 ms. `turns` holds one permit per connection and queues requests before they reach
    asyncpg. asyncio's semaphore serves its waiters in order and lets no newcomer pass them, so
    no request waits in asyncpg's own queue; p99 fell to 16-19 ms."""

    connections: asyncpg.Pool
    turns: asyncio.Semaphore

    async def close(self) -> None:
        await self.connections.close()


async def create_tasks_pool(settings: Settings, engine: AsyncEngine) -> TasksPool:
    """The pool behind `tasks_connection`: asyncpg's own, for the /tasks endpoints. Checking a
    connection out of SQLAlchemy's pool (greenlet hops, pool events, a fairy per checkout)
    cost a fifth of a GET /tasks request. No connection is opened until the first request.
    It connects as `engine` does: SQLAlchemy reads DATABASE_URL (its query options included),
    and `prepared_statement_cache_size=0` (for PgBouncer) turns asyncpg's statement cache off."""
    _, url_options = engine.dialect.create_connect_args(engine.url)
    cache_size = url_options.pop("prepared_statement_cache_size", None)
    if cache_size is not None:
        url_options["statement_cache_size"] = int(cache_size)
    pool: asyncpg.Pool = await asyncpg.create_pool(
        min_size=0,
        max_size=settings.db_tasks_pool_size,
        reset=_keep_session_state,
        **{**url_options, **connect_args(settings)},  # as for the engine, connect_args win
    )
    return TasksPool(pool, asyncio.Semaphore(settings.db_tasks_pool_size))


async def _keep_session_state(connection: asyncpg.Connection) -> None:
    """Skip asyncpg's per-release `RESET ALL; UNLISTEN *; ...` round trip: the task statements
    set no session state (their advisory locks are transaction-scoped). asyncpg still rolls back
    a transaction left open before calling this."""


@asynccontextmanager
async def tasks_connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    """A connection from the /tasks pool, outside any transaction: a single statement commits on
    its own in one round trip (no BEGIN and COMMIT), and several that must commit together use
    `async with connection.transaction()`. No ORM or result layer in between (see
    app/tasks/repository.py). A connection that fails is closed by asyncpg, and the pool
    replaces it on a later checkout.

    The endpoints enter this themselves rather than through a FastAPI `yield` dependency: that
    one dependency was a sixth of a POST /tasks request's CPU."""
    tasks: TasksPool = request.app.state.tasks_pool
    # Bounded like the session pool; asyncio.timeout, not acquire(timeout=), which would start
    # a task per checkout.
    async with asyncio.timeout(request.app.state.settings.db_connect_timeout_seconds):
        await tasks.turns.acquire()
        try:
            connection: asyncpg.Connection = await tasks.connections.acquire()
        except BaseException:
            tasks.turns.release()
            raise
    try:
        yield connection
    finally:
        try:
            await tasks.connections.release(connection)
        finally:
            tasks.turns.release()


# scope="function": commit (or roll back) before the response is sent, so a 2xx means committed.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
