from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, EmailStr, Field

from app.kit.types import STRICT_BODY, PgText

Username = Annotated[str, Field(min_length=3, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$")]
_USERNAME = re.compile(r"[A-Za-z0-9_.-]{3,50}")
Password = Annotated[PgText, Field(min_length=8, max_length=128)]


def could_be_username(value: str) -> bool:
    """Whether registration could have accepted `value` (login needs no lookup otherwise; a NUL
    byte, which PostgreSQL text cannot hold, would even make the lookup fail)."""
    return _USERNAME.fullmatch(value) is not None


class RegisterRequest(BaseModel):
    model_config = STRICT_BODY

    username: Username
    password: Password
    email: EmailStr | None = None


class UserResponse(BaseModel):
    id: uuid.UUID
    username: str
    email: str | None
    created_at: datetime


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires")


class RefreshRequest(BaseModel):
    model_config = STRICT_BODY

    refresh_token: Annotated[str, Field(min_length=1, max_length=4096)]
