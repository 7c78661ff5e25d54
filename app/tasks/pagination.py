"""Keyset pagination: sort specs and opaque, signed cursors.

A page is `WHERE (sort_key, id) < (last_key, last_id) ORDER BY sort_key DESC, id DESC LIMIT n`
(or the mirror image for ascending sorts): a range scan of the index that matches the sort, so page
10,000 costs what page 1 does, and inserts or deletes between pages neither repeat nor skip rows.

The cursor carries the last row's key and a fingerprint of the filters and sort, signed with an
HMAC: a cursor that was tampered with, or reused with other filters or sort, is refused (400).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
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


@dataclass(frozen=True, slots=True)
class CursorPosition:
    key: str  # the sort key as PostgreSQL text
    id: str  # the task id as text; a signed cursor's id needs no parsing, PostgreSQL casts it


class InvalidCursor(BadRequest):
    def __init__(
        self, detail: str = "The cursor is malformed or was not issued by this API"
    ) -> None:
        super().__init__(detail)


def fingerprint(query: dict[str, Any]) -> str:
    """A short digest of the filters and sort that a cursor is bound to."""
    return hashlib.sha256(orjson.dumps(query, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


@lru_cache
def cursor_codec(secret: str) -> CursorCodec:
    return CursorCodec(secret)


class CursorCodec:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"taskhub-cursor:" + secret.encode()).digest()

    def _sign(self, payload: bytes) -> bytes:
        return hmac.digest(self._key, payload, "sha256")[:16]

    def encode(self, position: CursorPosition, query_fingerprint: str) -> str:
        payload = orjson.dumps({"k": position.key, "i": position.id, "f": query_fingerprint})
        return base64.urlsafe_b64encode(self._sign(payload) + payload).rstrip(b"=").decode()

    def decode(self, cursor: str, query_fingerprint: str) -> CursorPosition:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise InvalidCursor()
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (ValueError, TypeError) as exc:
            raise InvalidCursor() from exc
        signature, payload = raw[:16], raw[16:]
        if len(signature) != 16 or not hmac.compare_digest(signature, self._sign(payload)):
            raise InvalidCursor()
        data = orjson.loads(payload)
        if data["f"] != query_fingerprint:
            raise InvalidCursor("The cursor belongs to a query with other filters or sort")
        return CursorPosition(key=str(data["k"]), id=str(data["i"]))
