"""`Idempotency-Key` on POST, after the IETF draft (draft-ietf-httpapi-idempotency-key-header).

Within the request's transaction: take a transaction-scoped advisory lock on (user, key). If another
request holds it, that request is still running: 409. Otherwise a stored response for the key is
replayed (same body) or refused (different body: 422); with none stored, the caller does its work
and stores its response in the same transaction, so the response and the effect commit together.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import BadRequest, Conflict, Unprocessable

MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: str
    headers: dict[str, str]


def validate_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise BadRequest(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable ASCII characters")
    return key


def request_fingerprint(body: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def claim(
    session: AsyncSession, *, user_id: uuid.UUID, key: str, fingerprint: str, ttl_hours: int
) -> StoredResponse | None:
    """Lock the key for this transaction; return the response to replay, if there is one."""
    locked = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(hashtextextended(:lock_name, 0))"),
        {"lock_name": f"idempotency:{user_id}:{key}"},
    )
    if not locked:
        raise Conflict("A request with this Idempotency-Key is still being processed")
    row = (
        await session.execute(
            text(
                "SELECT request_hash, status_code, response_body, response_headers"
                " FROM idempotency_keys WHERE user_id = :user_id AND key = :key"
                " AND created_at > now() - make_interval(hours => :ttl_hours)"
            ),
            {"user_id": user_id, "key": key, "ttl_hours": ttl_hours},
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise Unprocessable("This Idempotency-Key was already used with a different request body")
    return StoredResponse(row.status_code, row.response_body, row.response_headers)


async def store(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    key: str,
    fingerprint: str,
    response: StoredResponse,
) -> None:
    """Remember the response; an expired record under the same key is replaced."""
    await session.execute(
        text(
            "INSERT INTO idempotency_keys"
            " (user_id, key, request_hash, status_code, response_body, response_headers)"
            " VALUES (:user_id, :key, :request_hash, :status_code, :body, CAST(:headers AS jsonb))"
            " ON CONFLICT (user_id, key) DO UPDATE SET request_hash = excluded.request_hash,"
            " status_code = excluded.status_code, response_body = excluded.response_body,"
            " response_headers = excluded.response_headers, created_at = now()"
        ),
        {
            "user_id": user_id,
            "key": key,
            "request_hash": fingerprint,
            "status_code": response.status_code,
            "body": response.body,
            "headers": orjson.dumps(response.headers).decode(),
        },
    )
