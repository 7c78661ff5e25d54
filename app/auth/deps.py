"""Who is calling: bearer-token dependencies."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from redis.asyncio import Redis

from app.auth import repository
from app.auth.rate_limit import LoginLimiter
from app.auth.tokens import decode_token
from app.config import Settings
from app.db import SessionDep
from app.errors import Unauthorized
from app.models import User


async def app_settings(request: Request) -> Settings:
    """The settings this app was created with. Dependencies here are all `async def`: FastAPI
    runs plain `def` dependencies in a thread pool, a hop that cost more than the query."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(app_settings)]


class BearerUserId(OAuth2PasswordBearer):
    """The caller's id from a valid access token: the OAuth2 scheme (for OpenAPI), the header
    and the check in one dependency, because FastAPI's per-request cost grows with every
    dependency it resolves. Queries that use the id must also check that the user is still
    active (the task queries join `users` for that, in the same round trip)."""

    async def __call__(self, request: Request) -> uuid.UUID:  # type: ignore[override]
        token = await super().__call__(request)
        if not token:
            raise Unauthorized("Not authenticated")
        settings: Settings = request.app.state.settings
        return decode_token(settings, token, expected_type="access").user_id


bearer_user_id = BearerUserId(
    tokenUrl="/auth/login", scheme_name="OAuth2PasswordBearer", auto_error=False
)
CurrentUserId = Annotated[uuid.UUID, Depends(bearer_user_id)]


async def get_current_user(session: SessionDep, user_id: CurrentUserId) -> User:
    user = await repository.get_active_user(session, user_id)
    if user is None:
        raise Unauthorized("User is inactive or deleted")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_login_limiter(request: Request, settings: SettingsDep) -> LoginLimiter:
    redis: Redis = request.app.state.redis
    return LoginLimiter(redis, settings)


LoginLimiterDep = Annotated[LoginLimiter, Depends(get_login_limiter)]
