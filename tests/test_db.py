"""The /tasks pool (app/db.py) connects as the SQLAlchemy engine does, from the same URL."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from app.config import Settings
from app.db import create_engine, create_tasks_pool


async def _prepared_statements(settings: Settings) -> int:
    engine = create_engine(settings)
    pool = await create_tasks_pool(settings, engine)
    try:
        async with pool.acquire() as connection:
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
