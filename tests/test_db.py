"""The /tasks pool (app/db.py): it connects as the SQLAlchemy engine does, from the same URL,
and hands its connections out in arrival order."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

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
    loop = asyncio.get_running_loop()
    queries: list[asyncio.Task[None]] = []
    arrived: list[int] = []
    granted: list[int] = []

    def arrive() -> None:
        if len(queries) < 30:
            queries.append(asyncio.create_task(query(len(queries))))

    async def query(number: int) -> None:
        arrived.append(number)
        async with tasks_connection(request) as connection:  # type: ignore[arg-type]
            granted.append(number)
            await connection.fetch("SELECT 1")
            loop.call_soon(arrive)  # runs as the connection is being handed back

    try:
        for _ in range(4):
            arrive()
        while not all(query.done() for query in queries):
            await asyncio.gather(*queries)
    finally:
        await pool.close()
        await engine.dispose()
    assert arrived == list(range(30))
    assert granted == arrived


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
    queries: list[asyncio.Task[None]] = []
    arrived: list[int] = []
    granted: list[int] = []

    def arrive(*_: object) -> None:
        if len(queries) < 30:
            queries.append(asyncio.create_task(query(len(queries))))

    async def query(number: int) -> None:
        arrived.append(number)
        async with engine.connect() as connection:
            granted.append(number)
            await connection.execute(text("SELECT 1"))

    event.listen(engine.sync_engine.pool, "checkin", arrive)
    try:
        for _ in range(4):
            arrive()
        while not all(query.done() for query in queries):
            await asyncio.gather(*queries)
    finally:
        await engine.dispose()
    assert arrived == list(range(30))
    assert granted == arrived


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
