"""Registration, login, token rotation and logout: the rules. SQL lives in the repository."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import repository
from app.auth.passwords import hash_password, verify_password
from app.auth.rate_limit import LoginLimiter
from app.auth.schemas import RegisterRequest, TokenPair, could_be_username
from app.auth.tokens import decode_token, encode_token
from app.config import Settings
from app.db import end_read
from app.errors import Conflict, Unauthorized
from app.jobs import names, outbox
from app.models import User


class UsernameTaken(Conflict):
    def __init__(self) -> None:
        super().__init__("That username is already taken")


class RefreshTokenReused(Unauthorized):
    keeps_changes = True  # the family revocation must commit although the request fails

    def __init__(self) -> None:
        super().__init__("Refresh token was already used; please log in again")


class InvalidCredentials(Unauthorized):
    def __init__(self) -> None:
        super().__init__("Incorrect username or password")


async def register(session: AsyncSession, request: RegisterRequest) -> User:
    hashed = await hash_password(request.password)
    user = await repository.insert_user(
        session, username=request.username, email=request.email, hashed_password=hashed
    )
    if user is None:
        raise UsernameTaken()
    if user.email:
        await outbox.enqueue(
            session,
            job_id=names.welcome_email_id(user.id),
            name=names.WELCOME_EMAIL,
            kwargs={"user_id": str(user.id)},
            owner_id=user.id,
        )
    return user


async def login(
    session: AsyncSession,
    settings: Settings,
    limiter: LoginLimiter,
    *,
    username: str,
    password: str,
    client_ip: str,
) -> TokenPair:
    await limiter.check(username, client_ip)
    credentials = (
        await repository.get_credentials(session, username) if could_be_username(username) else None
    )
    hashed = credentials.hashed_password if credentials else None
    await end_read(session)  # hand the connection back while the hash runs (tens of ms)
    valid, rehashed = await verify_password(password, hashed)
    if not valid or credentials is None:
        await limiter.record_failure(username, client_ip)
        raise InvalidCredentials()
    if rehashed is not None:  # made with an earlier profile: store the current parameters
        await repository.set_password_hash(
            session, credentials.id, verified=credentials.hashed_password, replacement=rehashed
        )
    pair, _ = await _issue_pair(session, settings, user_id=credentials.id, family_id=uuid.uuid4())
    return pair


async def refresh(session: AsyncSession, settings: Settings, refresh_token: str) -> TokenPair:
    claims = decode_token(settings, refresh_token, expected_type="refresh")
    stored = await repository.lock_refresh_token(session, claims.jti)
    if stored is None or stored.user_id != claims.user_id:
        raise Unauthorized("Refresh token is not valid")
    if stored.revoked_at is not None:
        # A used or revoked token came back: it may have leaked, so end the whole login.
        await repository.revoke_family(session, stored.family_id)
        raise RefreshTokenReused()
    if await repository.get_active_user(session, stored.user_id) is None:
        raise Unauthorized("User is inactive or deleted")
    pair, new_jti = await _issue_pair(
        session, settings, user_id=stored.user_id, family_id=stored.family_id
    )
    await repository.mark_replaced(session, stored.jti, replaced_by=new_jti)
    return pair


async def logout(session: AsyncSession, settings: Settings, refresh_token: str) -> None:
    claims = decode_token(settings, refresh_token, expected_type="refresh")
    stored = await repository.lock_refresh_token(session, claims.jti)
    if stored is None or stored.user_id != claims.user_id:
        raise Unauthorized("Refresh token is not valid")
    await repository.revoke_family(session, stored.family_id)


async def _issue_pair(
    session: AsyncSession, settings: Settings, *, user_id: uuid.UUID, family_id: uuid.UUID
) -> tuple[TokenPair, uuid.UUID]:
    access_lifetime = timedelta(minutes=settings.jwt_expire_minutes)
    access, _ = encode_token(
        settings, user_id=user_id, token_type="access", jti=uuid.uuid4(), lifetime=access_lifetime
    )
    refresh_jti = uuid.uuid4()
    refresh_token, refresh_expires = encode_token(
        settings,
        user_id=user_id,
        token_type="refresh",
        jti=refresh_jti,
        lifetime=timedelta(days=settings.jwt_refresh_days),
    )
    await repository.insert_refresh_token(
        session, jti=refresh_jti, user_id=user_id, family_id=family_id, expires_at=refresh_expires
    )
    pair = TokenPair(
        access_token=access,
        refresh_token=refresh_token,
        expires_in=int(access_lifetime.total_seconds()),
    )
    return pair, refresh_jti
