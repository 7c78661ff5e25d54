from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from app.auth import service
from app.auth.deps import CurrentUser, LoginLimiterDep, SettingsDep
from app.auth.schemas import RefreshRequest, RegisterRequest, TokenPair, UserResponse
from app.db import SessionDep
from app.errors import problem_responses

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    summary="Create an account",
    responses=problem_responses(409, 413, 422),
)
async def register(body: RegisterRequest, session: SessionDep) -> UserResponse:
    """Create a user. Usernames are unique whatever their case. With an email, a welcome mail is
    sent by a background job enqueued in the same transaction."""
    user = await service.register(session, body)
    return UserResponse.model_validate(user, from_attributes=True)


@router.post(
    "/login",
    summary="Log in (OAuth2 password flow)",
    responses=problem_responses(401, 422, 429),
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    limiter: LoginLimiterDep,
    request: Request,
) -> TokenPair:
    """Exchange a username and password for an access and a refresh token. Repeated failures
    for one username or one client address are refused with 429 and `Retry-After`."""
    client_ip = request.client.host if request.client else "unknown"
    return await service.login(
        session,
        settings,
        limiter,
        username=form.username,
        password=form.password,
        client_ip=client_ip,
    )


@router.post("/refresh", summary="Rotate a refresh token", responses=problem_responses(401, 422))
async def refresh(body: RefreshRequest, session: SessionDep, settings: SettingsDep) -> TokenPair:
    """Trade a refresh token for a new pair. Each refresh token works once; presenting a used
    one again revokes every token of that login."""
    return await service.refresh(session, settings, body.refresh_token)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a login",
    responses=problem_responses(401, 422),
)
async def logout(body: RefreshRequest, session: SessionDep, settings: SettingsDep) -> Response:
    """Revoke the refresh token and every token rotated from the same login."""
    await service.logout(session, settings, body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", summary="The current user", responses=problem_responses(401))
async def me(user: CurrentUser) -> UserResponse:
    return UserResponse.model_validate(user, from_attributes=True)
