"""The seeded rows: the benchmark compares pages of them, so their shape must not depend on depth."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from app.seed import SHAPE_PERIOD, _task_records

OWNER = uuid.UUID("12345678-1234-5678-1234-567812345678")
NEWEST = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
ID, TITLE, CREATED = 0, 2, 8


def _without_id_and_times(record: tuple[object, ...]) -> tuple[object, ...]:
    """Everything but the id, the title's digits and the timestamps (which differ by position)."""
    _, owner, title, description, status, priority, due, tags, created, _, completed = record
    due_in = due - created if isinstance(due, datetime) and isinstance(created, datetime) else None
    assert isinstance(title, str)
    assert isinstance(tags, list)
    return owner, len(title), description, status, priority, due_in, tuple(tags), completed is None


def test_rows_a_period_apart_have_the_same_shape() -> None:
    """The first page and the page 10,000 rows in (500 hops of 20) hold rows of the same size."""
    first_page = _task_records(OWNER, range(0, 21), NEWEST)
    deep_page = _task_records(OWNER, range(10 * SHAPE_PERIOD, 10 * SHAPE_PERIOD + 21), NEWEST)
    assert [_without_id_and_times(r) for r in first_page] == [
        _without_id_and_times(r) for r in deep_page
    ]


def test_rows_within_a_period_vary() -> None:
    shapes = {
        _without_id_and_times(r)[3:] for r in _task_records(OWNER, range(SHAPE_PERIOD), NEWEST)
    }
    statuses = {shape[0] for shape in shapes}
    assert statuses == {"todo", "in_progress", "done"}
    assert len(shapes) > 100


def test_positions_are_newest_first_one_second_apart_with_unique_titles() -> None:
    """Positions continue across COPY batches: a batch starting at 50,000 is titled from there."""
    records = _task_records(OWNER, range(49_998, 50_002), NEWEST)
    assert [r[CREATED] for r in records] == [
        NEWEST - timedelta(seconds=position) for position in range(49_998, 50_002)
    ]
    assert [r[TITLE] for r in records] == [
        f"Task {position:07d} of 123456" for position in range(49_998, 50_002)
    ]
    assert len({r[ID] for r in records}) == 4
