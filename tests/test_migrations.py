"""Alembic on fresh databases: upgrade, downgrade, upgrade again, and no drift from the models."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.models import Base
from tests import services as test_services
from tests.migrations import alembic_config, upgrade_head


async def _upgrade(url: str) -> None:
    # env.py calls asyncio.run, which cannot nest in this test's running loop.
    await asyncio.to_thread(upgrade_head, url)


async def _downgrade_base(url: str) -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")


async def _query(url: str, sql: str) -> list[Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql))).scalars())
    finally:
        await engine.dispose()


async def _public_tables(url: str) -> set[str]:
    return set(await _query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))


async def _drift(url: str) -> list[Any]:
    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(compare)
    finally:
        await engine.dispose()


async def test_upgrade_head_creates_every_model_table(services: test_services.TestServices) -> None:
    url = services.create_database("taskhub_migrate")

    await _upgrade(url)

    assert await _public_tables(url) == {*Base.metadata.tables, "alembic_version"}


async def test_downgrade_base_leaves_only_alembic_version(
    services: test_services.TestServices,
) -> None:
    url = services.create_database("taskhub_migrate")
    await _upgrade(url)

    await _downgrade_base(url)

    assert await _public_tables(url) == {"alembic_version"}
    assert await _query(url, "SELECT version_num FROM alembic_version") == []
    sequences = await _query(url, "SELECT sequencename FROM pg_sequences")
    assert sequences == []


async def test_upgrade_after_downgrade_recreates_the_schema(
    services: test_services.TestServices,
) -> None:
    url = services.create_database("taskhub_migrate")
    await _upgrade(url)
    await _downgrade_base(url)

    await _upgrade(url)

    assert await _public_tables(url) == {*Base.metadata.tables, "alembic_version"}
    assert await _drift(url) == []


async def test_models_and_migrations_agree(services: test_services.TestServices) -> None:
    url = services.create_database("taskhub_migrate")
    await _upgrade(url)

    assert await _drift(url) == []


async def test_check_constraints_match_the_models(services: test_services.TestServices) -> None:
    """Autogenerate does not compare CHECK constraints; compare their names here."""
    url = services.create_database("taskhub_migrate")
    await _upgrade(url)

    expected = {
        str(constraint.name)  # already expanded by the naming convention
        for table in Base.metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
    }
    actual = await _query(
        url,
        "SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE n.nspname = 'public' AND c.contype = 'c'",
    )

    assert set(actual) == expected
    assert expected
