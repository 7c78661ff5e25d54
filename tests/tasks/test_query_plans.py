"""Every list page is a range scan of its sort's index, with no Sort node.

The statements come from `repository.list_page_statement`, the builder `list_page` executes, so
the plans checked are those of the SQL that runs. Each is checked twice: as PostgreSQL plans it
for the given values (custom plan) and as a cached prepared statement may run it after a few
executions (generic plan, which knows neither the owner nor the cursor).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import User
from app.tasks import repository
from app.tasks.pagination import CursorPosition
from app.tasks.repository import Statement, TaskFilters
from app.tasks.schemas import TaskSort
from tests.factories import make_user


async def _driver(session: AsyncSession) -> Any:
    """The asyncpg connection under the test's session (inside its transaction)."""
    connection = await session.connection()
    return (await connection.get_raw_connection()).driver_connection


OWNER_TASKS = 3000
OTHER_USERS = 3
OTHER_USER_TASKS = 1000
T0 = datetime(2030, 1, 1, tzinfo=UTC)

SORT_INDEXES = {
    TaskSort.created_desc: "ix_tasks_owner_created",
    TaskSort.created_asc: "ix_tasks_owner_created",
    TaskSort.due_asc: "ix_tasks_owner_due_asc",
    TaskSort.due_desc: "ix_tasks_owner_due_desc",
    TaskSort.priority_desc: "ix_tasks_owner_priority",
    TaskSort.updated_desc: "ix_tasks_owner_updated",
}
PLAN_MODES = ("force_custom_plan", "force_generic_plan")


async def _insert_generated_tasks(session: AsyncSession, owner_id: uuid.UUID, count: int) -> None:
    """`count` varied tasks in one statement: every status and priority, a fifth without a due
    date, repeated due dates and priorities (ties), distinct creation and update times."""
    await session.execute(
        text(
            "INSERT INTO tasks (id, owner_id, title, status, priority, due_at, tags,"
            " created_at, updated_at)"
            " SELECT gen_random_uuid(), :owner_id, 'Generated task ' || i,"
            " (ARRAY['todo', 'in_progress', 'done'])[1 + i % 3], i % 4,"
            " CASE WHEN i % 5 = 0 THEN NULL"
            "  ELSE CAST(:t0 AS timestamptz) + (i * 7 % 500) * interval '1 hour' END,"
            " ARRAY['tag' || (i % 10)]::varchar[],"
            " CAST(:t0 AS timestamptz) - i * interval '1 minute',"
            " CAST(:t0 AS timestamptz) - (i * 13 % 9973) * interval '1 minute'"
            " FROM generate_series(1, :count) AS i"
        ),
        {"owner_id": owner_id, "t0": T0, "count": count},
    )


@pytest.fixture
async def populated_owner(session: AsyncSession, owner: User) -> User:
    """The owner with a few thousand tasks, among other users' tasks, with fresh statistics."""
    await _insert_generated_tasks(session, owner.id, OWNER_TASKS)
    for _ in range(OTHER_USERS):
        other = await make_user(session)
        await _insert_generated_tasks(session, other.id, OTHER_USER_TASKS)
    await session.execute(text("ANALYZE tasks"))
    await session.execute(text("ANALYZE users"))
    return owner


def _literal(value: object) -> str:
    """A SQL literal for EXECUTE's arguments; untyped, so it takes the parameter's type."""
    if isinstance(value, bool | int):
        return str(int(value))
    if isinstance(value, list):
        return _literal("{" + ",".join(str(item) for item in value) + "}")
    if isinstance(value, datetime):
        return _literal(value.isoformat())
    return "'" + str(value).replace("'", "''") + "'"


async def _explain(session: AsyncSession, statement: Statement, plan_mode: str) -> dict[str, Any]:
    """EXPLAIN the statement as a prepared statement does, under `plan_cache_mode`: a plain
    EXPLAIN with bound values always plans for those values, never generically."""
    connection = await session.connection()
    compiled = text(statement.sql).compile(dialect=connection.dialect)
    arguments = ", ".join(_literal(statement.params[name]) for name in compiled.positiontup or [])
    await connection.exec_driver_sql(f"SET LOCAL plan_cache_mode = {plan_mode}")
    await connection.exec_driver_sql(f"PREPARE plan_probe AS {compiled.string}")
    try:
        raw = (
            await connection.exec_driver_sql(
                f"EXPLAIN (FORMAT JSON) EXECUTE plan_probe({arguments})"
            )
        ).scalar_one()
    finally:
        await connection.exec_driver_sql("DEALLOCATE plan_probe")
        await connection.exec_driver_sql("RESET plan_cache_mode")
    plan: dict[str, Any] = (orjson.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    return plan


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _nodes(child))]


def _describe(plan: dict[str, Any], depth: int = 0) -> str:
    """A compact plan tree for assertion messages."""
    line = "  " * depth + plan["Node Type"]
    if "Index Name" in plan:
        line += f" using {plan['Index Name']}"
    if "Relation Name" in plan:
        line += f" on {plan['Relation Name']}"
    return "\n".join([line, *(_describe(child, depth + 1) for child in plan.get("Plans", []))])


async def _deep_cursor(session: AsyncSession, owner: User, filters: TaskFilters) -> CursorPosition:
    """A position far into the listing, as the API's cursor would carry it."""
    rows = await repository.list_page(
        await _driver(session), owner.id, filters, after=None, limit=1000
    )
    assert len(rows) == 1000
    return CursorPosition(rows[-1].sort_key, str(rows[-1].id))


#: The pages each sort must serve from its index: first and deep, unfiltered and filtered.
PAGE_KINDS = [
    (statuses, with_cursor)
    for statuses in (None, ["todo", "in_progress"])
    for with_cursor in (False, True)
]


@pytest.mark.parametrize("sort", list(TaskSort), ids=[sort.value for sort in TaskSort])
async def test_every_list_page_is_a_range_scan_of_the_sort_index(
    session: AsyncSession, populated_owner: User, sort: TaskSort
) -> None:
    for statuses, with_cursor in PAGE_KINDS:
        filters = TaskFilters(statuses=statuses, sort=sort)
        after = await _deep_cursor(session, populated_owner, filters) if with_cursor else None
        statement = repository.list_page_statement(
            populated_owner.id, filters, after=after, limit=21
        )
        for plan_mode in PLAN_MODES:
            plan = await _explain(session, statement, plan_mode)
            nodes = _nodes(plan)
            tree = f"statuses={statuses} cursor={with_cursor} {plan_mode}:\n{_describe(plan)}"
            task_scans = [node for node in nodes if node.get("Relation Name") == "tasks"]
            assert len(task_scans) == 1, tree
            assert task_scans[0]["Node Type"] in ("Index Scan", "Index Only Scan"), tree
            assert task_scans[0]["Index Name"] == SORT_INDEXES[sort], tree
            assert not [node for node in nodes if "Sort" in node["Node Type"]], tree
            if after is not None:  # the keyset bounds the index range; it is not a filter
                assert "ROW(" in task_scans[0]["Index Cond"], tree
                assert "ROW(" not in task_scans[0].get("Filter", ""), tree
            if plan_mode == "force_generic_plan":  # really planned without the values
                assert "$1" in task_scans[0]["Index Cond"], tree


async def test_list_page_statement_is_what_list_page_runs(
    session: AsyncSession, populated_owner: User
) -> None:
    filters = TaskFilters(sort=TaskSort.due_asc)
    statement = repository.list_page_statement(populated_owner.id, filters, after=None, limit=5)

    direct = (await session.execute(text(statement.sql), statement.params)).all()
    rows = await repository.list_page(
        await _driver(session), populated_owner.id, filters, after=None, limit=5
    )

    assert [row.id for row in rows] == [row.id for row in direct]


@pytest.mark.parametrize("statuses", [None, ["todo"]], ids=["unfiltered", "by status"])
async def test_the_cached_plan_of_a_page_knows_the_page_size(
    session: AsyncSession, populated_owner: User, statuses: list[str] | None
) -> None:
    """Why the LIMIT is written into the SQL. With `LIMIT $n` the generic plan (the one a
    prepared statement can reuse) assumed a tenth of the rows, looked costlier than planning
    each call with its values, and PostgreSQL planned every page again. Knowing the page size,
    the generic plan costs what a custom one does, and PostgreSQL reuses it after five calls."""
    filters = TaskFilters(statuses=statuses)
    statement = repository.list_page_statement(populated_owner.id, filters, after=None, limit=21)

    plan = await _explain(session, statement, "force_generic_plan")

    assert plan["Node Type"] == "Limit", _describe(plan)
    assert plan["Plan Rows"] == 21, _describe(plan)


async def test_a_page_is_planned_alike_at_every_depth(
    session: AsyncSession, populated_owner: User
) -> None:
    """Why the cursor's position comes through a subquery: planned with its value, a page near
    the top looked cheaper than one further down, so whether PostgreSQL reused its cached plan
    or planned each call afresh depended on the depth and on the latest ANALYZE."""
    filters = TaskFilters()
    rows = await repository.list_page(
        await _driver(session), populated_owner.id, filters, after=None, limit=2000
    )
    positions = [CursorPosition(row.sort_key, str(row.id)) for row in (rows[19], rows[-1])]

    plans = [
        await _explain(
            session,
            repository.list_page_statement(populated_owner.id, filters, after=at, limit=21),
            "force_custom_plan",
        )
        for at in positions
    ]

    near, far = ([node["Plan Rows"] for node in _nodes(plan)] for plan in plans)
    assert near == far, "\n".join(_describe(plan) for plan in plans)
    assert plans[0]["Total Cost"] == plans[1]["Total Cost"]
