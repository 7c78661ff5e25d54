"""The cursor codec alone; its HTTP behaviour (400s, filters, walking) is in test_list.py."""

from __future__ import annotations

import uuid

import pytest

from app.tasks.pagination import CursorCodec, CursorPosition, InvalidCursor, fingerprint

TASK_ID = uuid.UUID("0b9f6a52-3c1e-4f7a-9d2b-5e8c7a6f4d31")
KEY = "2026-11-29 03:00:00.123456+00"


def test_round_trip_gives_the_position_postgresql_casts() -> None:
    codec = CursorCodec("s" * 48)
    query = fingerprint({"sort": "-created_at"})

    position = codec.decode(codec.encode(KEY, TASK_ID, query), query)

    assert position == CursorPosition(KEY, TASK_ID.hex)
    assert uuid.UUID(position.id) == TASK_ID


def test_a_timestamp_cursor_stays_short() -> None:
    """Every deep page request carries one: its length is parsed and decoded on each."""
    cursor = CursorCodec("s" * 48).encode(KEY, TASK_ID, fingerprint({}))

    assert len(cursor) <= 92


def test_a_cursor_from_another_secret_is_refused() -> None:
    query = fingerprint({})
    cursor = CursorCodec("a" * 48).encode(KEY, TASK_ID, query)

    with pytest.raises(InvalidCursor):
        CursorCodec("b" * 48).decode(cursor, query)
