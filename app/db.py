"""The async engine, the request session and its transaction rules.

The session dependency owns the transaction: it commits when the endpoint returns and rolls back when
it raises. Services and repositories only flush. Callbacks registered with `after_commit` run once the
commit succeeded (the outbox uses this to publish jobs at once without ever publishing a rollback).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Settings
from app.errors import AppError

AfterCommit = Callable[[AsyncSession], None]


def create_engine(settings: Settings) -> AsyncEngine:
    return create_async_engine(
        settings.require_database_url(),
        echo=settings.sql_echo,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=False,
        pool_timeout=settings.db_connect_timeout_seconds,
        connect_args=connect_args(settings),
    )


def connect_args(settings: Settings) -> dict[str, Any]:
    """asyncpg options: bounded connects and statements, UTC, and a prepared-statement cache."""
    return {
        "timeout": settings.db_connect_timeout_seconds,
        "command_timeout": settings.db_statement_timeout_ms / 1000 + 1 or None,
        "server_settings": {
            "timezone": "UTC",
            "statement_timeout": str(settings.db_statement_timeout_ms),
            "application_name": "taskhub-api",
        },
    }


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def create_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for endpoints that only read, each in one statement: in autocommit mode, so a
    read costs one round trip instead of BEGIN, the query and COMMIT."""
    return create_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` after this request's transaction commits; drop it on rollback."""
    session.info.setdefault("after_commit", []).append(callback)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    publisher = request.app.state.outbox_publisher
    async for session in session_scope(request.app.state.sessionmaker):
        after_commit(session, publisher.publish_committed)
        yield session


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


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.read_sessionmaker() as session:
        yield session


# scope="function": commit (or roll back) before the response is sent, so a 2xx means committed.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
