"""Input types shared by the request schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, ConfigDict


def _storable(value: str) -> str:
    """PostgreSQL text cannot hold NUL, and UTF-8 cannot hold lone surrogates: refuse both (422)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text") from exc
    return value


#: A string PostgreSQL can store.
PgText = Annotated[str, AfterValidator(_storable)]

#: Request bodies reject unknown fields, so `owner_id`, `id`, `created_at` cannot be mass-assigned.
STRICT_BODY = ConfigDict(extra="forbid", str_strip_whitespace=False)
