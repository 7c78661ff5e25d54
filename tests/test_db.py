"""The /tasks pool (app/db.py): it connects as the SQLAlchemy engine does, from the same URL,
and hands its connections out in arrival order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy.exc
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from app.config import Settings
from app.db import create_engine, create_tasks_pool, tasks_connection


async def _prepared_statements(settings: Settings) -> int:
    engine = create_engine(settings)
    pool = await create_tasks_pool(settings, engine)
    try:
        async with pool.connections.acquire() as connection:
            await connection.fetch("SELECT 1")
            count: int = await connection.fetchval("SELECT count(*) FROM pg_prepared_statements")
    finally:
        await pool.close()
        await engine.dispose()
    return count


async def test_tasks_pool_caches_prepared_statements_by_default(settings: Settings) -> None:
    assert await _prepared_statements(settings) >= 1


async def test_prepared_statement_cache_size_in_the_url_reaches_the_tasks_pool(
    settings: Settings,
) -> None:
    """For PgBouncer in transaction mode: no named prepared statements at all."""
    url = make_url(settings.require_database_url())
    with_option = url.update_query_dict({"prepared_statement_cache_size": "0"})
    tuned = settings.model_copy(
        update={"database_url": with_option.render_as_string(hide_password=False)}
    )

    assert await _prepared_statements(tuned) == 0


class Arrivals:
    """Requests that each take one pooled connection, numbered as they arrive. `arrive` starts
    the next one; `granted` is the order in which they got their connection."""

    def __init__(
        self,
        connect: Callable[[], AbstractAsyncContextManager[Any]],
        use: Callable[[Any], Awaitable[object]],
        total: int = 30,
    ) -> None:
        self.connect, self.use, self.total = connect, use, total
        self.requests: list[asyncio.Task[None]] = []
        self.arrived: list[int] = []
        self.granted: list[int] = []

    def arrive(self, *_: object) -> None:
        if len(self.requests) < self.total:
            self.requests.append(asyncio.create_task(self._request(len(self.requests))))

    async def _request(self, number: int) -> None:
        self.arrived.append(number)
        async with self.connect() as connection:
            self.granted.append(number)
            await self.use(connection)

    async def run(self) -> None:
        """One request holds the only connection and three wait; more arrive as it is freed."""
        for _ in range(4):
            self.arrive()
        while not all(request.done() for request in self.requests):
            await asyncio.gather(*self.requests)
        assert self.arrived == list(range(self.total))


async def test_connections_go_to_requests_in_arrival_order(settings: Settings) -> None:
    """asyncpg alone gives a released connection to a request that arrives while the longest
    waiter is being woken, and sends that waiter to the back of the queue (MagicStack/asyncpg
    #1247). Here a new request arrives each time the only connection is handed back, the way
    requests keep arriving under load; through `tasks_connection` they are served in the order
    they arrived."""
    tuned = settings.model_copy(update={"db_tasks_pool_size": 1})
    engine = create_engine(tuned)
    pool = await create_tasks_pool(tuned, engine)
    state = SimpleNamespace(tasks_pool=pool, settings=tuned)
    request = SimpleNamespace(app=SimpleNamespace(state=state))

    async def select_then_let_one_arrive(connection: Any) -> None:
        await connection.fetch("SELECT 1")
        asyncio.get_running_loop().call_soon(arrivals.arrive)  # runs as it is handed back

    arrivals = Arrivals(lambda: tasks_connection(request), select_then_let_one_arrive)  # type: ignore[arg-type]
    try:
        await arrivals.run()
    finally:
        await pool.close()
        await engine.dispose()
    assert arrivals.granted == arrivals.arrived


async def test_a_request_that_times_out_waiting_for_its_turn_leaves_no_turn_behind(
    settings: Settings,
) -> None:
    tuned = settings.model_copy(update={"db_tasks_pool_size": 1, "db_connect_timeout_seconds": 0.2})
    engine = create_engine(tuned)
    pool = await create_tasks_pool(tuned, engine)
    state = SimpleNamespace(tasks_pool=pool, settings=tuned)
    request = SimpleNamespace(app=SimpleNamespace(state=state))
    try:
        async with tasks_connection(request):  # type: ignore[arg-type]
            with pytest.raises(TimeoutError):
                async with tasks_connection(request):  # type: ignore[arg-type]
                    pass
        async with asyncio.timeout(1), tasks_connection(request) as connection:  # type: ignore[arg-type]
            assert await connection.fetchval("SELECT 1") == 1
    finally:
        await pool.close()
        await engine.dispose()


async def test_session_pool_connections_go_to_requests_in_arrival_order(settings: Settings) -> None:
    """The same for SQLAlchemy's pool (auth, jobs, health): its stock asyncio queue lets a
    request that asks while the longest waiter is being woken take the connection first. Here
    a new request arrives each time a connection is checked back in."""
    engine = create_engine(settings.model_copy(update={"db_pool_size": 1, "db_max_overflow": 0}))
    arrivals = Arrivals(engine.connect, lambda connection: connection.execute(text("SELECT 1")))
    event.listen(engine.sync_engine.pool, "checkin", arrivals.arrive)
    try:
        await arrivals.run()
    finally:
        await engine.dispose()
    assert arrivals.granted == arrivals.arrived


async def test_session_pool_waiters_that_give_up_leave_the_pool_whole(settings: Settings) -> None:
    """A wait that times out raises the pool's TimeoutError, and a cancelled one goes quietly;
    neither keeps a connection or a place in the queue."""
    engine = create_engine(
        settings.model_copy(
            update={"db_pool_size": 1, "db_max_overflow": 0, "db_connect_timeout_seconds": 0.2}
        )
    )
    try:
        async with engine.connect():
            with pytest.raises(sqlalchemy.exc.TimeoutError):
                await engine.connect().start()
            cancelled = asyncio.create_task(engine.connect().start())
            await asyncio.sleep(0.05)
            cancelled.cancel()
            with pytest.raises(asyncio.CancelledError):
                await cancelled
        async with asyncio.timeout(1), engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
        assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
