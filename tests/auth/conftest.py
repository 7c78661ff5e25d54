"""Helpers for the auth tests: form logins, per-test settings overrides, committed users."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient, Response
from sqlalchemy import delete

from app.auth.deps import app_settings
from app.config import Settings
from app.models import User

OverrideSettings = Callable[..., Settings]


async def login(client: AsyncClient, username: str, password: str) -> Response:
    return await client.post("/auth/login", data={"username": username, "password": password})


@pytest.fixture
def override_settings(app: FastAPI, settings: Settings) -> Iterator[OverrideSettings]:
    """`override_settings(login_max_failures_per_username=3)`: the app's `app_settings`
    dependency returns a copy with those fields changed until the test ends."""

    def apply(**changes: Any) -> Settings:
        custom = settings.model_copy(update=changes)
        app.dependency_overrides[app_settings] = lambda: custom
        return custom

    yield apply
    app.dependency_overrides.pop(app_settings, None)


@pytest.fixture
async def live_user(app: FastAPI, live_client: AsyncClient) -> AsyncIterator[tuple[str, str]]:
    """A committed user with a unique name, (username, password), removed after the test."""
    username, password = f"live_{uuid.uuid4().hex[:12]}", "live user password"
    response = await live_client.post(
        "/auth/register", json={"username": username, "password": password}
    )
    assert response.status_code == 201
    yield username, password
    async with app.state.sessionmaker() as cleanup, cleanup.begin():
        await cleanup.execute(delete(User).where(User.id == uuid.UUID(response.json()["id"])))
