"""JWT access and refresh tokens (PyJWT). The algorithm is pinned from settings; the `type` claim
keeps the two kinds from standing in for each other."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import jwt

from app.config import Settings
from app.errors import Unauthorized

TokenType = Literal["access", "refresh"]
REQUIRED_CLAIMS = ["sub", "type", "jti", "iat", "exp"]


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: uuid.UUID
    jti: uuid.UUID
    expires_at: datetime


def encode_token(
    settings: Settings,
    *,
    user_id: uuid.UUID,
    token_type: TokenType,
    jti: uuid.UUID,
    lifetime: timedelta,
) -> tuple[str, datetime]:
    now = datetime.now(UTC)
    expires_at = now + lifetime
    claims = {
        "sub": str(user_id),
        "type": token_type,
        "jti": str(jti),
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm), expires_at


def decode_token(settings: Settings, token: str, *, expected_type: TokenType) -> TokenClaims:
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[settings.jwt_algorithm],
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Token has expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("Could not validate credentials") from exc
    if claims.get("type") != expected_type:
        raise Unauthorized(f"A token of type {expected_type} is required")
    try:
        return TokenClaims(
            user_id=uuid.UUID(str(claims["sub"])),
            jti=uuid.UUID(str(claims["jti"])),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )
    except (TypeError, ValueError, OverflowError, OSError) as exc:  # e.g. `exp` past year 9999
        raise Unauthorized("Could not validate credentials") from exc
