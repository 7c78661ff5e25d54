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

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/login", auto_error=False)


async def app_settings(request: Request) -> Settings:
    """The settings this app was created with. Dependencies here are all `async def`: FastAPI
    runs plain `def` dependencies in a thread pool, a hop that cost more than the query."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(app_settings)]


async def get_current_user_id(
    settings: SettingsDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> uuid.UUID:
    """The caller's id from a valid access token. Queries that use it must also check that the
    user is still active (the task queries join `users` for that, in the same round trip)."""
    if not token:
        raise Unauthorized("Not authenticated")
    return decode_token(settings, token, expected_type="access").user_id


CurrentUserId = Annotated[uuid.UUID, Depends(get_current_user_id)]


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
