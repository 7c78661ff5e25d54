"""Fixtures for the tasks API tests: an owner and a stranger, each with a bearer token."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import User
from tests.factories import auth_headers, make_user


@pytest.fixture
async def owner(session: AsyncSession) -> User:
    return await make_user(session)


@pytest.fixture
def owner_headers(settings: Settings, owner: User) -> dict[str, str]:
    return auth_headers(settings, owner)


@pytest.fixture
async def stranger(session: AsyncSession) -> User:
    return await make_user(session)


@pytest.fixture
def stranger_headers(settings: Settings, stranger: User) -> dict[str, str]:
    return auth_headers(settings, stranger)
