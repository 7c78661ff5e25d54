"""Keyset pagination: sort specs and opaque, signed cursors.

A page is `WHERE (sort_key, id) < (last_key, last_id) ORDER BY sort_key DESC, id DESC LIMIT n`
(or the mirror image for ascending sorts): a range scan of the index that matches the sort, so page
10,000 costs what page 1 does, and inserts or deletes between pages neither repeat nor skip rows.

The cursor carries the last row's key and a fingerprint of the filters and sort, signed with a
keyed BLAKE2b MAC: a cursor that was tampered with, or reused with other filters or sort, is
refused (400). Its bytes are the 16-byte tag, then the 8-byte fingerprint, the task id's 16 bytes
and the sort key as text, so it stays short (92 characters for a timestamp key): every deep page
request carries one, and its length is paid in URL parsing and base64 on each of them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import orjson

from app.errors import BadRequest
from app.models.task import DUE_AT_ASC_KEY, DUE_AT_DESC_KEY
from app.tasks.schemas import TaskSort


@dataclass(frozen=True, slots=True)
class SortSpec:
    key_sql: str  # matches the expression of one index on tasks
    descending: bool
    key_type: Literal["timestamptz", "smallint"]


SORTS: dict[TaskSort, SortSpec] = {
    TaskSort.created_desc: SortSpec("t.created_at", True, "timestamptz"),
    TaskSort.created_asc: SortSpec("t.created_at", False, "timestamptz"),
    TaskSort.due_asc: SortSpec(DUE_AT_ASC_KEY.replace("due_at", "t.due_at"), False, "timestamptz"),
    TaskSort.due_desc: SortSpec(DUE_AT_DESC_KEY.replace("due_at", "t.due_at"), True, "timestamptz"),
    TaskSort.priority_desc: SortSpec("t.priority", True, "smallint"),
    TaskSort.updated_desc: SortSpec("t.updated_at", True, "timestamptz"),
}


#: Far above any cursor this API issues; longer strings are refused before decoding.
MAX_CURSOR_LENGTH = 1024
_TAG_BYTES = 16
_FINGERPRINT_BYTES = 8
_ID_END = _FINGERPRINT_BYTES + 16  # the task id's bytes follow the fingerprint


@dataclass(frozen=True, slots=True)
class CursorPosition:
    key: str  # the sort key as PostgreSQL text
    id: str  # the task id as text (32 hex digits from a cursor): PostgreSQL casts it


class InvalidCursor(BadRequest):
    def __init__(
        self, detail: str = "The cursor is malformed or was not issued by this API"
    ) -> None:
        super().__init__(detail)


def fingerprint(query: dict[str, Any]) -> bytes:
    """A short digest of the filters and sort that a cursor is bound to."""
    canonical = orjson.dumps(query, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(canonical, digest_size=_FINGERPRINT_BYTES).digest()


@lru_cache
def cursor_codec(secret: str) -> CursorCodec:
    return CursorCodec(secret)


class CursorCodec:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"taskhub-cursor:" + secret.encode()).digest()

    def _tag(self, payload: bytes) -> bytes:
        return hashlib.blake2b(payload, key=self._key, digest_size=_TAG_BYTES).digest()

    def encode(self, sort_key: str, task_id: uuid.UUID, query_fingerprint: bytes) -> str:
        payload = query_fingerprint + task_id.bytes + sort_key.encode()
        return base64.urlsafe_b64encode(self._tag(payload) + payload).rstrip(b"=").decode()

    def decode(self, cursor: str, query_fingerprint: bytes) -> CursorPosition:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise InvalidCursor()
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (ValueError, TypeError) as exc:
            raise InvalidCursor() from exc
        tag, payload = raw[:_TAG_BYTES], raw[_TAG_BYTES:]
        if len(payload) <= _ID_END or not hmac.compare_digest(tag, self._tag(payload)):
            raise InvalidCursor()
        if payload[:_FINGERPRINT_BYTES] != query_fingerprint:
            raise InvalidCursor("The cursor belongs to a query with other filters or sort")
        return CursorPosition(
            key=payload[_ID_END:].decode(), id=payload[_FINGERPRINT_BYTES:_ID_END].hex()
        )
