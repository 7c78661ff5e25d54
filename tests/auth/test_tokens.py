from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import timedelta
from typing import Literal

import jwt
import pytest
from httpx import AsyncClient
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.tokens import encode_token
from app.config import Settings
from app.models import User
from tests.factories import auth_headers, make_user


def _claims(user_id: uuid.UUID, **changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": str(user_id),
        "type": "access",
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 300,
    }
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _signed(settings: Settings, claims: dict[str, object], algorithm: str | None = None) -> str:
    return jwt.encode(claims, settings.jwt_secret, algorithm=algorithm or settings.jwt_algorithm)


def bad_access_token(kind: str, settings: Settings, user_id: uuid.UUID) -> str:
    """A token that must not authenticate `user_id`, of the given kind."""
    if kind == "garbage":
        return "not-a-jwt"
    if kind in ("expired", "refresh-token"):
        token_type: Literal["access", "refresh"] = (
            "refresh" if kind == "refresh-token" else "access"
        )
        lifetime = timedelta(seconds=-60 if kind == "expired" else 300)
        token, _ = encode_token(
            settings, user_id=user_id, token_type=token_type, jti=uuid.uuid4(), lifetime=lifetime
        )
        return token
    if kind == "bad-signature":
        return jwt.encode(_claims(user_id), "another-secret-" + "y" * 40, algorithm="HS256")
    if kind == "alg-none":
        return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(user_id))}."
    if kind == "other-algorithm":
        return _signed(settings, _claims(user_id), algorithm="HS384")
    changes: dict[str, dict[str, object]] = {
        "no-type": {"type": None},
        "no-jti": {"jti": None},
        "no-exp": {"exp": None},
        "sub-not-a-uuid": {"sub": "12345"},
        "issued-in-the-future": {"iat": int(time.time()) + 3600},
        "expiry-out-of-range": {"exp": 10**20},
    }
    return _signed(settings, _claims(user_id, **changes[kind]))


BAD_ACCESS_TOKENS = [
    "garbage",
    "expired",
    "bad-signature",
    "alg-none",
    "other-algorithm",
    "refresh-token",
    "no-type",
    "no-jti",
    "no-exp",
    "sub-not-a-uuid",
    "issued-in-the-future",
    "expiry-out-of-range",
]


async def test_me_returns_the_current_user(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(session, email="me@example.com")

    response = await client.get("/auth/me", headers=auth_headers(settings, user))

    assert response.status_code == 200
    assert response.json()["username"] == user.username
    assert response.json()["email"] == "me@example.com"


@pytest.mark.parametrize("path", ["/auth/me", "/tasks"])
async def test_missing_bearer_token_is_401(client: AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("kind", BAD_ACCESS_TOKENS)
async def test_invalid_access_token_is_401(
    client: AsyncClient, session: AsyncSession, settings: Settings, kind: str
) -> None:
    user = await make_user(session)
    token = bad_access_token(kind, settings, user.id)

    response = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["status"] == 401


async def test_non_bearer_authorization_scheme_is_401(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(session)
    token = auth_headers(settings, user)["Authorization"].removeprefix("Bearer ")

    response = await client.get("/auth/me", headers={"Authorization": f"Basic {token}"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_access_token_is_refused_at_refresh(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(session)
    access = auth_headers(settings, user)["Authorization"].removeprefix("Bearer ")

    response = await client.post("/auth/refresh", json={"refresh_token": access})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_access_token_is_refused_at_logout(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(session)
    access = auth_headers(settings, user)["Authorization"].removeprefix("Bearer ")

    response = await client.post("/auth/logout", json={"refresh_token": access})

    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/auth/me", "/tasks"])
async def test_deleted_users_token_stops_working(
    client: AsyncClient, session: AsyncSession, settings: Settings, path: str
) -> None:
    user = await make_user(session)
    headers = auth_headers(settings, user)
    assert (await client.get(path, headers=headers)).status_code == 200

    await session.execute(delete(User).where(User.id == user.id))
    await session.flush()
    response = await client.get(path, headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("path", ["/auth/me", "/tasks"])
async def test_inactive_users_token_stops_working(
    client: AsyncClient, session: AsyncSession, settings: Settings, path: str
) -> None:
    user = await make_user(session)
    headers = auth_headers(settings, user)
    assert (await client.get(path, headers=headers)).status_code == 200

    await session.execute(update(User).where(User.id == user.id).values(is_active=False))
    await session.flush()
    response = await client.get(path, headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
