"""Keyset pagination properties, checked against a Python model of the list endpoint.

Each example inserts its tasks inside a SAVEPOINT of the test transaction and rolls it back, so
examples do not see each other's rows. Small value pools make ties on every sort key common.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from httpx import AsyncClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import User
from tests.tasks.support import TaskSpec, expected_ids, insert_tasks, list_all, matches, sort_key

T0 = datetime(2030, 6, 1, tzinfo=UTC)
SORTS = ["-created_at", "created_at", "due_at", "-due_at", "-priority", "-updated_at"]
STATUSES = ["todo", "in_progress", "done"]
TAGS = ["a", "b", "c"]
# Letters in both cases plus LIKE wildcards and the escape character, so `q` meets all of them.
TEXT_ALPHABET = "aAbB%_\\"

PROPERTY_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

instants = st.integers(min_value=0, max_value=5).map(lambda i: T0 + timedelta(minutes=i))
due_instants = st.integers(min_value=-3, max_value=3).map(lambda i: T0 + timedelta(hours=i))

task_specs = st.builds(
    TaskSpec,
    created_at=instants,
    updated_at=instants,
    due_at=st.none() | due_instants,
    priority=st.integers(min_value=0, max_value=3),
    status=st.sampled_from(STATUSES),
    tags=st.lists(st.sampled_from(TAGS), unique=True, max_size=3).map(tuple),
    title=st.text(TEXT_ALPHABET, min_size=3, max_size=6),
    description=st.text(TEXT_ALPHABET + " ", max_size=6),
    id=st.uuids(version=4),
)
task_sets = st.lists(task_specs, min_size=8, max_size=30, unique_by=lambda spec: spec.id)


def _sometimes(draw: st.DrawFn) -> bool:
    """One filter in five: most walks keep enough tasks to span several pages."""
    return draw(st.integers(min_value=0, max_value=4)) == 0


@st.composite
def list_queries(draw: st.DrawFn) -> dict[str, Any]:
    """Query parameters for GET /tasks: a sort and a random subset of the filters."""
    params: dict[str, Any] = {"sort": draw(st.sampled_from(SORTS))}
    if _sometimes(draw):
        params["status"] = draw(st.lists(st.sampled_from(STATUSES), min_size=2, max_size=3))
    if _sometimes(draw):
        params["priority"] = draw(
            st.lists(st.integers(min_value=0, max_value=3), min_size=2, max_size=3)
        )
    if _sometimes(draw):
        params["tag"] = draw(st.sampled_from(TAGS))
    if _sometimes(draw):
        params["due_before"] = draw(due_instants).isoformat()
    if _sometimes(draw):
        params["due_after"] = draw(due_instants).isoformat()
    if _sometimes(draw):
        params["q"] = draw(st.text(TEXT_ALPHABET, min_size=1, max_size=2))
    return params


@asynccontextmanager
async def rolled_back(session: AsyncSession) -> AsyncIterator[None]:
    """Run one hypothesis example inside a SAVEPOINT that is always rolled back."""
    savepoint = await session.begin_nested()
    try:
        yield
    finally:
        await savepoint.rollback()


@PROPERTY_SETTINGS
@given(
    specs=task_sets,
    query=list_queries(),
    limit=st.integers(min_value=1, max_value=4),
)
async def test_walking_the_cursors_returns_exactly_the_matching_tasks_in_order(
    client: AsyncClient,
    session: AsyncSession,
    owner: User,
    owner_headers: dict[str, str],
    specs: list[TaskSpec],
    query: dict[str, Any],
    limit: int,
) -> None:
    async with rolled_back(session):
        await insert_tasks(session, owner.id, specs)

        items = await list_all(client, owner_headers, query | {"limit": limit})

        assert [uuid.UUID(item["id"]) for item in items] == expected_ids(specs, query)


@PROPERTY_SETTINGS
@given(
    initial=task_sets,
    query=list_queries(),
    limit=st.integers(min_value=1, max_value=4),
    data=st.data(),
)
async def test_inserts_and_deletes_between_pages_never_repeat_or_skip_a_task(
    client: AsyncClient,
    session: AsyncSession,
    owner: User,
    owner_headers: dict[str, str],
    initial: list[TaskSpec],
    query: dict[str, Any],
    limit: int,
    data: st.DataObject,
) -> None:
    sort = query["sort"]
    known = {spec.id: spec for spec in initial}
    existing = set(known)
    deleted: set[uuid.UUID] = set()
    async with rolled_back(session):
        await insert_tasks(session, owner.id, initial)
        seen: list[uuid.UUID] = []
        cursor: str | None = None
        for _ in range(len(initial) + 50):
            params = query | {"limit": limit} | ({"cursor": cursor} if cursor else {})
            response = await client.get("/tasks", params=params, headers=owner_headers)
            assert response.status_code == 200, response.text
            page = response.json()
            for item in page["items"]:
                task_id = uuid.UUID(item["id"])
                assert task_id not in seen, f"task {task_id} was returned twice"
                seen.append(task_id)
            cursor = page["meta"]["next_cursor"]
            if cursor is None:
                break
            to_delete = data.draw(
                st.lists(st.sampled_from(sorted(existing)), unique=True, max_size=2)
                if existing
                else st.just([])
            )
            to_insert = data.draw(
                st.lists(
                    task_specs.filter(lambda spec: spec.id not in known),
                    max_size=2,
                    unique_by=lambda spec: spec.id,
                )
            )
            await session.execute(
                text("DELETE FROM tasks WHERE id = ANY(:ids)"), {"ids": to_delete}
            )
            await insert_tasks(session, owner.id, to_insert)
            existing.difference_update(to_delete)
            deleted.update(to_delete)
            known.update((spec.id, spec) for spec in to_insert)
            existing.update(spec.id for spec in to_insert)
        else:
            raise AssertionError("the walk never reached a last page")

    survivors = {spec.id for spec in initial if spec.id not in deleted and matches(spec, query)}
    assert survivors <= set(seen), "a task that existed for the whole walk was skipped"
    assert all(matches(known[task_id], query) for task_id in seen)
    keys = [sort_key(known[task_id], sort) for task_id in seen]
    assert keys == sorted(keys, reverse=sort.startswith("-")), "the walk went out of order"
