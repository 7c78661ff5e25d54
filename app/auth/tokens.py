"""JWT access and refresh tokens (PyJWT). The algorithm is pinned from settings; the `type` claim
keeps the two kinds from standing in for each other."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
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
    verified = _verify(token, settings.jwt_secret, settings.jwt_algorithm)
    if verified.expires_at <= datetime.now(UTC):
        raise Unauthorized("Token has expired")
    if verified.token_type != expected_type:
        raise Unauthorized(f"A token of type {expected_type} is required")
    return verified.claims


@dataclass(frozen=True, slots=True)
class _Verified:
    claims: TokenClaims
    token_type: str

    @property
    def expires_at(self) -> datetime:
        return self.claims.expires_at


@lru_cache(maxsize=4096)
def _verify(token: str, secret: str, algorithm: str) -> _Verified:
    """Check a token's signature and claims once; a client sends the same access token with
    every request, and verifying it again each time cost more than the database query. Expiry
    is checked by the caller on every use, so a cached token still stops working at `exp`.
    Failures raise, and exceptions are never cached."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[algorithm],
            options={"require": REQUIRED_CLAIMS, "verify_exp": False},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized("Could not validate credentials") from exc
    try:
        return _Verified(
            TokenClaims(
                user_id=uuid.UUID(str(claims["sub"])),
                jti=uuid.UUID(str(claims["jti"])),
                expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            ),
            str(claims.get("type")),
        )
    except (TypeError, ValueError, OverflowError, OSError) as exc:  # e.g. `exp` past year 9999
        raise Unauthorized("Could not validate credentials") from exc
