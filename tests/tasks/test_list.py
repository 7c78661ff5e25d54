"""GET /tasks: page shape, limits, filters, sorts and cursor validation."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import User
from tests.factories import make_task
from tests.tasks.support import TASK_FIELDS, TaskSpec, expected_ids, insert_tasks, list_all

T0 = datetime(2030, 1, 1, tzinfo=UTC)
SORTS = ["-created_at", "created_at", "due_at", "-due_at", "-priority", "-updated_at"]


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


async def _page(client: AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get("/tasks", params=params, headers=headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def _make_tasks(session: AsyncSession, owner: User, count: int) -> list[str]:
    """`count` tasks, newest first (the default order)."""
    ids = [
        str((await make_task(session, owner=owner, created_at=T0 + timedelta(minutes=i))).id)
        for i in range(count)
    ]
    return ids[::-1]


async def test_page_has_items_and_meta(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    newest_first = await _make_tasks(session, owner, 3)

    page = await _page(client, owner_headers, limit=2)

    assert set(page) == {"items", "meta"}
    assert set(page["meta"]) == {"limit", "has_more", "next_cursor"}
    assert page["meta"]["limit"] == 2
    assert page["meta"]["has_more"] is True
    assert isinstance(page["meta"]["next_cursor"], str)
    assert _ids(page["items"]) == newest_first[:2]
    assert set(page["items"][0]) == TASK_FIELDS
    assert page["items"][0]["owner"] == owner.username


async def test_last_page_has_no_cursor(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    newest_first = await _make_tasks(session, owner, 3)
    first = await _page(client, owner_headers, limit=2)

    last = await _page(client, owner_headers, limit=2, cursor=first["meta"]["next_cursor"])

    assert _ids(last["items"]) == newest_first[2:]
    assert last["meta"] == {"limit": 2, "has_more": False, "next_cursor": None}


async def test_page_exactly_full_reports_no_more(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    await _make_tasks(session, owner, 2)

    page = await _page(client, owner_headers, limit=2)

    assert len(page["items"]) == 2
    assert page["meta"]["has_more"] is False
    assert page["meta"]["next_cursor"] is None


async def test_user_without_tasks_gets_an_empty_page(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    page = await _page(client, owner_headers)

    assert page == {"items": [], "meta": {"limit": 20, "has_more": False, "next_cursor": None}}


async def test_default_limit_is_20(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    await _make_tasks(session, owner, 21)

    page = await _page(client, owner_headers)

    assert len(page["items"]) == 20
    assert page["meta"]["limit"] == 20
    assert page["meta"]["has_more"] is True


async def test_limit_100_is_allowed(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    await _make_tasks(session, owner, 101)

    page = await _page(client, owner_headers, limit=100)

    assert len(page["items"]) == 100
    assert page["meta"]["has_more"] is True


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", ""])
async def test_invalid_limit_is_422(
    client: AsyncClient, owner_headers: dict[str, str], limit: str
) -> None:
    response = await client.get("/tasks", params={"limit": limit}, headers=owner_headers)

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "limit"]


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"status": "nope"}, id="status"),
        pytest.param({"priority": "4"}, id="priority_above_range"),
        pytest.param({"priority": "x"}, id="priority_not_int"),
        pytest.param({"sort": "title"}, id="sort"),
        pytest.param({"due_before": "2030-01-01T00:00:00"}, id="due_before_naive"),
        pytest.param({"due_after": "soon"}, id="due_after_not_a_date"),
        pytest.param({"due_after": "1900000000"}, id="due_after_unix_time"),
        pytest.param({"due_before": "0001-01-01T00:00:00+14:00"}, id="due_before_out_of_range"),
        pytest.param({"q": ""}, id="q_empty"),
        pytest.param({"q": "x" * 101}, id="q_too_long"),
        pytest.param({"q": "nul\x00"}, id="q_nul"),
        pytest.param({"tag": "t" * 51}, id="tag_too_long"),
        pytest.param({"tag": "nul\x00"}, id="tag_nul"),
    ],
)
async def test_invalid_filter_is_422(
    client: AsyncClient, owner_headers: dict[str, str], params: dict[str, str]
) -> None:
    response = await client.get("/tasks", params=params, headers=owner_headers)

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][:2] == ["query", next(iter(params))]


async def test_unknown_query_parameters_are_ignored(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    newest_first = await _make_tasks(session, owner, 2)

    page = await _page(client, owner_headers, colour="blue", owner_id=str(uuid.uuid4()))

    assert _ids(page["items"]) == newest_first


async def test_status_filter_is_repeatable(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    todo = await make_task(session, owner=owner, status="todo", created_at=T0)
    doing = await make_task(
        session, owner=owner, status="in_progress", created_at=T0 + timedelta(1)
    )
    await make_task(session, owner=owner, status="done", created_at=T0 + timedelta(2))

    only_todo = await _page(client, owner_headers, status="todo")
    todo_or_doing = await _page(client, owner_headers, status=["todo", "in_progress"])

    assert _ids(only_todo["items"]) == [str(todo.id)]
    assert _ids(todo_or_doing["items"]) == [str(doing.id), str(todo.id)]


async def test_priority_filter_is_repeatable(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    tasks = [
        await make_task(session, owner=owner, priority=p, created_at=T0 + timedelta(p))
        for p in range(4)
    ]

    one = await _page(client, owner_headers, priority=2)
    two = await _page(client, owner_headers, priority=[0, 3])

    assert _ids(one["items"]) == [str(tasks[2].id)]
    assert _ids(two["items"]) == [str(tasks[3].id), str(tasks[0].id)]


async def test_tag_filter_matches_whole_tags(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    tagged = await make_task(session, owner=owner, tags=["home", "urgent"], created_at=T0)
    await make_task(session, owner=owner, tags=["homework"], created_at=T0 + timedelta(1))
    await make_task(session, owner=owner, tags=[], created_at=T0 + timedelta(2))

    page = await _page(client, owner_headers, tag="home")

    assert _ids(page["items"]) == [str(tagged.id)]


async def test_due_before_is_strict(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    before = await make_task(session, owner=owner, due_at=T0 - timedelta(seconds=1))
    await make_task(session, owner=owner, due_at=T0)
    await make_task(session, owner=owner, due_at=None)

    page = await _page(client, owner_headers, due_before=T0.isoformat())

    assert _ids(page["items"]) == [str(before.id)]


async def test_due_after_is_inclusive(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    await make_task(session, owner=owner, due_at=T0 - timedelta(seconds=1))
    at = await make_task(session, owner=owner, due_at=T0)
    await make_task(session, owner=owner, due_at=None)

    page = await _page(client, owner_headers, due_after=T0.isoformat())

    assert _ids(page["items"]) == [str(at.id)]


async def test_due_filters_compare_instants_across_offsets(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    task = await make_task(session, owner=owner, due_at=T0)

    page = await _page(
        client,
        owner_headers,
        due_after="2030-01-01T02:00:00+02:00",
        due_before="2029-12-31T19:00:01-05:00",
    )

    assert _ids(page["items"]) == [str(task.id)]


async def test_q_matches_title_or_description_case_insensitively(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    in_title = await make_task(session, owner=owner, title="Buy MILK", created_at=T0)
    in_description = await make_task(
        session,
        owner=owner,
        title="Groceries",
        description="oat milk",
        created_at=T0 + timedelta(1),
    )
    await make_task(session, owner=owner, title="Buy bread", created_at=T0 + timedelta(2))

    page = await _page(client, owner_headers, q="Milk")

    assert _ids(page["items"]) == [str(in_description.id), str(in_title.id)]


@pytest.mark.parametrize(
    ("needle", "matching_title", "other_title"),
    [
        ("50%", "Discount 50% off", "Discount 500 off"),
        ("a_b", "key a_b here", "key axb here"),
        ("c:\\temp", "clean c:\\temp now", "clean c:temp now"),
    ],
)
async def test_q_treats_like_wildcards_literally(
    client: AsyncClient,
    session: AsyncSession,
    owner: User,
    owner_headers: dict[str, str],
    needle: str,
    matching_title: str,
    other_title: str,
) -> None:
    match = await make_task(session, owner=owner, title=matching_title)
    await make_task(session, owner=owner, title=other_title)

    page = await _page(client, owner_headers, q=needle)

    assert _ids(page["items"]) == [str(match.id)]


async def test_filters_combine_with_and(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    match = await make_task(
        session, owner=owner, status="todo", priority=3, tags=["work"], title="Report"
    )
    await make_task(session, owner=owner, status="done", priority=3, tags=["work"], title="Report")
    await make_task(session, owner=owner, status="todo", priority=1, tags=["work"], title="Report")
    await make_task(session, owner=owner, status="todo", priority=3, tags=["home"], title="Report")
    await make_task(session, owner=owner, status="todo", priority=3, tags=["work"], title="Other")

    page = await _page(client, owner_headers, status="todo", priority=3, tag="work", q="report")

    assert _ids(page["items"]) == [str(match.id)]


def _sort_fixture() -> list[TaskSpec]:
    """Ties on every sort key (broken by id), and tasks without a due date."""
    hour = timedelta(hours=1)
    return [
        TaskSpec(created_at=T0, updated_at=T0 + 5 * hour, due_at=T0 + 2 * hour, priority=1),
        TaskSpec(created_at=T0, updated_at=T0 + 5 * hour, due_at=T0 + 2 * hour, priority=1),
        TaskSpec(created_at=T0 + hour, updated_at=T0 + hour, due_at=None, priority=3),
        TaskSpec(created_at=T0 + hour, updated_at=T0 + 9 * hour, due_at=None, priority=0),
        TaskSpec(created_at=T0 + 2 * hour, updated_at=T0 + 2 * hour, due_at=T0, priority=3),
        TaskSpec(created_at=T0 + 3 * hour, updated_at=T0 + 3 * hour, due_at=T0 + 9 * hour),
        TaskSpec(created_at=T0 - hour, updated_at=T0 - hour, due_at=T0 - 9 * hour, priority=2),
    ]


@pytest.mark.parametrize("sort", SORTS)
async def test_sort_orders_by_key_then_id(
    client: AsyncClient,
    session: AsyncSession,
    owner: User,
    owner_headers: dict[str, str],
    sort: str,
) -> None:
    specs = _sort_fixture()
    await insert_tasks(session, owner.id, specs)

    items = await list_all(client, owner_headers, {"sort": sort, "limit": 2})

    assert _ids(items) == [str(task_id) for task_id in expected_ids(specs, {"sort": sort})]


@pytest.mark.parametrize("sort", ["due_at", "-due_at"])
async def test_due_sorts_put_tasks_without_due_date_last(
    client: AsyncClient,
    session: AsyncSession,
    owner: User,
    owner_headers: dict[str, str],
    sort: str,
) -> None:
    await insert_tasks(session, owner.id, _sort_fixture())

    items = await list_all(client, owner_headers, {"sort": sort, "limit": 3})

    due = [item["due_at"] for item in items]
    assert due[-2:] == [None, None]
    assert None not in due[:-2]


async def test_default_sort_is_newest_first(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    newest_first = await _make_tasks(session, owner, 4)

    items = await list_all(client, owner_headers, {"limit": 3})

    assert _ids(items) == newest_first


async def _first_cursor(
    client: AsyncClient, session: AsyncSession, owner: User, headers: dict[str, str], **params: Any
) -> str:
    await _make_tasks(session, owner, 3)
    page = await _page(client, headers, limit=1, **params)
    cursor: str = page["meta"]["next_cursor"]
    return cursor


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("garbage", id="garbage"),
        pytest.param("!!!!", id="not_base64"),
        pytest.param("\u00e9t\u00e9", id="non_ascii"),
        pytest.param(base64.urlsafe_b64encode(b"x" * 40).decode(), id="unsigned"),
        pytest.param("a" * 2000, id="too_long"),
        pytest.param("YQ", id="too_short"),
    ],
)
async def test_malformed_cursor_is_400(
    client: AsyncClient, owner_headers: dict[str, str], cursor: str
) -> None:
    response = await client.get("/tasks", params={"cursor": cursor}, headers=owner_headers)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 400


async def test_truncated_cursor_is_400(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    cursor = await _first_cursor(client, session, owner, owner_headers)

    response = await client.get(
        "/tasks", params={"limit": 1, "cursor": cursor[:-3]}, headers=owner_headers
    )

    assert response.status_code == 400


async def test_tampered_cursor_payload_is_400(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    cursor = await _first_cursor(client, session, owner, owner_headers)
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    signature, payload = raw[:16], raw[16:]
    forged_payload = payload.replace(b"2030", b"2031")  # the sort key, a timestamp in 2030
    assert forged_payload != payload
    forged = base64.urlsafe_b64encode(signature + forged_payload).rstrip(b"=").decode()

    response = await client.get(
        "/tasks", params={"limit": 1, "cursor": forged}, headers=owner_headers
    )

    assert response.status_code == 400


async def test_tampered_cursor_signature_is_400(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    cursor = await _first_cursor(client, session, owner, owner_headers)
    flipped = ("B" if cursor[0] == "A" else "A") + cursor[1:]

    response = await client.get(
        "/tasks", params={"limit": 1, "cursor": flipped}, headers=owner_headers
    )

    assert response.status_code == 400


@pytest.mark.parametrize(
    ("issued_with", "reused_with"),
    [
        pytest.param({}, {"sort": "created_at"}, id="other_sort"),
        pytest.param({"sort": "-priority"}, {"sort": "-updated_at"}, id="other_sort_same_type"),
        pytest.param({}, {"status": "todo"}, id="added_filter"),
        pytest.param({"status": "todo"}, {}, id="dropped_filter"),
        pytest.param({"status": "todo"}, {"status": "done"}, id="other_status"),
        pytest.param({"priority": 0}, {"priority": [0, 1]}, id="other_priorities"),
        pytest.param({"tag": "a"}, {"tag": "b"}, id="other_tag"),
        pytest.param({"q": "task"}, {"q": "Task!"}, id="other_q"),
        pytest.param(
            {"due_after": "2000-01-01T00:00:00+00:00"},
            {"due_after": "2000-01-02T00:00:00+00:00"},
            id="other_due_after",
        ),
        pytest.param({"due_before": "2100-01-01T00:00:00+00:00"}, {}, id="dropped_due_before"),
    ],
)
async def test_cursor_reused_with_other_filters_or_sort_is_400(
    client: AsyncClient,
    session: AsyncSession,
    owner: User,
    owner_headers: dict[str, str],
    issued_with: dict[str, Any],
    reused_with: dict[str, Any],
) -> None:
    for i in range(3):
        await make_task(
            session,
            owner=owner,
            title="A task",
            tags=["a"],
            due_at=T0,
            created_at=T0 + timedelta(minutes=i),
        )
    first = await _page(client, owner_headers, limit=1, **issued_with)
    cursor = first["meta"]["next_cursor"]
    assert cursor is not None

    response = await client.get(
        "/tasks", params={"limit": 1, "cursor": cursor, **reused_with}, headers=owner_headers
    )

    assert response.status_code == 400
    assert "filters or sort" in response.json()["detail"]


async def test_cursor_works_with_another_page_size(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    newest_first = await _make_tasks(session, owner, 5)
    first = await _page(client, owner_headers, limit=1)

    rest = await _page(client, owner_headers, limit=10, cursor=first["meta"]["next_cursor"])

    assert _ids(rest["items"]) == newest_first[1:]


async def test_cursor_survives_deletion_of_its_anchor_task(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    newest_first = await _make_tasks(session, owner, 4)
    first = await _page(client, owner_headers, limit=2)
    await client.delete(f"/tasks/{newest_first[1]}", headers=owner_headers)

    rest = await _page(client, owner_headers, limit=2, cursor=first["meta"]["next_cursor"])

    assert _ids(rest["items"]) == newest_first[2:]
