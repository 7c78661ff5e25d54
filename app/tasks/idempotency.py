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

import asyncpg
import orjson

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
    db: asyncpg.Connection, *, user_id: uuid.UUID, key: str, fingerprint: str, ttl_hours: int
) -> StoredResponse | None:
    """Lock the key for the transaction `db` is in; return the response to replay, if any."""
    locked = await db.fetchval(
        "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
        f"idempotency:{user_id}:{key}",
    )
    if not locked:
        raise Conflict("A request with this Idempotency-Key is still being processed")
    row = await db.fetchrow(
        "SELECT request_hash, status_code, response_body, response_headers::text"
        " FROM idempotency_keys WHERE user_id = $1 AND key = $2"
        " AND created_at > now() - make_interval(hours => $3)",
        user_id,
        key,
        ttl_hours,
    )
    if row is None:
        return None
    if row["request_hash"] != fingerprint:
        raise Unprocessable("This Idempotency-Key was already used with a different request body")
    headers = orjson.loads(row["response_headers"])
    return StoredResponse(row["status_code"], row["response_body"], headers)


async def store(
    db: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    key: str,
    fingerprint: str,
    response: StoredResponse,
) -> None:
    """Remember the response; an expired record under the same key is replaced."""
    await db.execute(
        "INSERT INTO idempotency_keys"
        " (user_id, key, request_hash, status_code, response_body, response_headers)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb)"
        " ON CONFLICT (user_id, key) DO UPDATE SET request_hash = excluded.request_hash,"
        " status_code = excluded.status_code, response_body = excluded.response_body,"
        " response_headers = excluded.response_headers, created_at = now()",
        user_id,
        key,
        fingerprint,
        response.status_code,
        response.body,
        orjson.dumps(response.headers).decode(),
    )
