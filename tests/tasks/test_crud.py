"""Create, read, update and delete one task: status codes, headers, fields and validation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import User
from tests.factories import make_task
from tests.tasks.support import TASK_FIELDS, count_tasks, create_task, parse_time

PAST = datetime(2020, 5, 17, 8, 30, tzinfo=UTC)


async def test_create_returns_201_with_location_etag_and_every_field(
    client: AsyncClient, owner: User, owner_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/tasks",
        json={
            "title": "Ship the release",
            "description": "Tag, build, publish",
            "status": "in_progress",
            "priority": 2,
            "due_at": "2031-02-03T04:05:06+02:00",
            "tags": ["release", "ops"],
        },
        headers=owner_headers,
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == TASK_FIELDS
    assert response.headers["location"] == f"/tasks/{body['id']}"
    assert response.headers["etag"] == '"1"'
    assert response.headers["content-type"] == "application/json"
    assert uuid.UUID(body["id"])
    assert body["title"] == "Ship the release"
    assert body["description"] == "Tag, build, publish"
    assert body["status"] == "in_progress"
    assert body["priority"] == 2
    assert body["due_at"] == "2031-02-03T02:05:06+00:00"
    assert body["tags"] == ["release", "ops"]
    assert body["owner"] == owner.username
    created_at = parse_time(body["created_at"])
    assert created_at is not None
    assert created_at.utcoffset() == timedelta(0)
    assert parse_time(body["updated_at"]) == created_at
    assert body["completed_at"] is None


async def test_create_applies_defaults(client: AsyncClient, owner_headers: dict[str, str]) -> None:
    body = (await create_task(client, owner_headers, title="Only a title")).json()

    assert body["description"] == ""
    assert body["status"] == "todo"
    assert body["priority"] == 0
    assert body["tags"] == []
    assert body["due_at"] is None
    assert body["completed_at"] is None


async def test_create_as_done_stamps_completed_at(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    body = (await create_task(client, owner_headers, status="done")).json()

    assert parse_time(body["completed_at"]) is not None


async def test_create_trims_title_and_deduplicates_tags(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    body = (
        await create_task(client, owner_headers, title="  Padded  ", tags=["a", " b ", "a", "b"])
    ).json()

    assert body["title"] == "Padded"
    assert body["tags"] == ["a", "b"]


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"title": "abc"}, id="shortest_title"),
        pytest.param({"title": "t" * 100, "description": "d" * 500}, id="longest_texts"),
        pytest.param({"title": " " + "t" * 100 + " "}, id="longest_title_once_trimmed"),
        pytest.param({"tags": [f"tag{i}" for i in range(20)]}, id="most_tags"),
        pytest.param({"tags": ["x" * 50]}, id="longest_tag"),
        pytest.param({"priority": 3}, id="highest_priority"),
        pytest.param({"title": "\u00e9\u00e8" + "\U0001f600" * 98}, id="100_code_points"),
        pytest.param({"due_at": "0001-01-02T00:00:00+00:00"}, id="earliest_due_at"),
        pytest.param({"due_at": "9999-12-30T23:59:59.999999+00:00"}, id="latest_due_at"),
    ],
)
async def test_create_accepts_boundary_values(
    client: AsyncClient, owner_headers: dict[str, str], fields: dict[str, Any]
) -> None:
    body = (await create_task(client, owner_headers, **fields)).json()

    assert {name: body[name] for name in fields} == {
        name: value.strip() if name == "title" else value for name, value in fields.items()
    }


INVALID_CREATE_BODIES: dict[str, dict[str, Any]] = {
    "title_too_short": {"title": "ab"},
    "title_too_long": {"title": "t" * 101},
    "title_whitespace_only": {"title": "     "},
    "title_short_after_trim": {"title": "  ab  "},
    "title_missing": {"description": "no title"},
    "title_not_a_string": {"title": 12345},
    "description_too_long": {"title": "Valid", "description": "d" * 501},
    "priority_above_range": {"title": "Valid", "priority": 4},
    "priority_below_range": {"title": "Valid", "priority": -1},
    "priority_fractional": {"title": "Valid", "priority": 1.5},
    "status_unknown": {"title": "Valid", "status": "nope"},
    "too_many_tags": {"title": "Valid", "tags": [f"t{i}" for i in range(21)]},
    "tag_too_long": {"title": "Valid", "tags": ["x" * 51]},
    "tag_blank": {"title": "Valid", "tags": ["   "]},
    "due_at_without_timezone": {"title": "Valid", "due_at": "2030-01-01T09:00:00"},
    "due_at_not_a_date": {"title": "Valid", "due_at": "next tuesday"},
    "due_at_unix_time": {"title": "Valid", "due_at": 1900000000},
    "due_at_zero": {"title": "Valid", "due_at": 0},
    "due_at_unix_time_text": {"title": "Valid", "due_at": "1900000000"},
    "due_at_before_year_1_in_utc": {"title": "Valid", "due_at": "0001-01-01T00:00:00+14:00"},
    "due_at_after_year_9999_in_utc": {"title": "Valid", "due_at": "9999-12-31T23:59:59-14:00"},
    "due_at_earliest_python_instant": {"title": "Valid", "due_at": "0001-01-01T00:00:00Z"},
    "due_at_latest_python_instant": {"title": "Valid", "due_at": "9999-12-31T23:59:59.999999Z"},
    "nul_in_title": {"title": "bad\x00title"},
    "nul_in_description": {"title": "Valid", "description": "bad\x00"},
    "nul_in_tag": {"title": "Valid", "tags": ["bad\x00tag"]},
}


@pytest.mark.parametrize(
    "body", INVALID_CREATE_BODIES.values(), ids=list(INVALID_CREATE_BODIES.keys())
)
async def test_create_rejects_invalid_body_with_422_problem(
    client: AsyncClient,
    session: AsyncSession,
    owner: User,
    owner_headers: dict[str, str],
    body: dict[str, Any],
) -> None:
    response = await client.post("/tasks", json=body, headers=owner_headers)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert problem["errors"]
    assert all(error["loc"][0] == "body" for error in problem["errors"])
    assert await count_tasks(session, owner.id) == 0


async def test_create_rejects_a_lone_surrogate_escape(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/tasks",
        content=b'{"title": "bad \\ud800 title"}',
        headers=owner_headers | {"Content-Type": "application/json"},
    )

    assert response.status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not_json"),
        pytest.param(b"[]", id="array"),
        pytest.param(b"null", id="null"),
    ],
)
async def test_create_rejects_a_body_that_is_not_an_object(
    client: AsyncClient, owner_headers: dict[str, str], body: bytes
) -> None:
    response = await client.post(
        "/tasks", content=body, headers=owner_headers | {"Content-Type": "application/json"}
    )

    assert response.status_code == 422


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("owner_id", "00000000-0000-0000-0000-000000000001"),
        ("id", "00000000-0000-0000-0000-000000000002"),
        ("created_at", "2020-01-01T00:00:00+00:00"),
        ("version", 99),
        ("completed_at", "2020-01-01T00:00:00+00:00"),
    ],
)
async def test_create_refuses_mass_assignment(
    client: AsyncClient,
    session: AsyncSession,
    owner: User,
    owner_headers: dict[str, str],
    field: str,
    value: object,
) -> None:
    response = await client.post(
        "/tasks", json={"title": "Sneaky", field: value}, headers=owner_headers
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", field]
    assert await count_tasks(session, owner.id) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("owner_id", "00000000-0000-0000-0000-000000000001"),
        ("id", "00000000-0000-0000-0000-000000000002"),
        ("created_at", "2020-01-01T00:00:00+00:00"),
        ("version", 99),
        ("completed_at", "2020-01-01T00:00:00+00:00"),
    ],
)
async def test_patch_refuses_mass_assignment(
    client: AsyncClient, owner_headers: dict[str, str], field: str, value: object
) -> None:
    created = await create_task(client, owner_headers)
    location = created.headers["location"]

    response = await client.patch(location, json={field: value}, headers=owner_headers)

    assert response.status_code == 422
    after = await client.get(location, headers=owner_headers)
    assert after.json() == created.json()
    assert after.headers["etag"] == created.headers["etag"]


async def test_get_returns_the_task_with_its_etag(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    created = await create_task(client, owner_headers, tags=["x"])

    response = await client.get(created.headers["location"], headers=owner_headers)

    assert response.status_code == 200
    assert response.json() == created.json()
    assert response.headers["etag"] == created.headers["etag"]


async def test_patch_changes_only_the_fields_sent(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    created = await create_task(
        client,
        owner_headers,
        title="Original",
        description="Keep me",
        priority=2,
        due_at="2030-01-01T00:00:00+00:00",
        tags=["keep"],
    )

    response = await client.patch(
        created.headers["location"], json={"title": "Renamed"}, headers=owner_headers
    )

    assert response.status_code == 200
    assert response.json() == created.json() | {"title": "Renamed"}


async def test_patch_bumps_the_etag(client: AsyncClient, owner_headers: dict[str, str]) -> None:
    created = await create_task(client, owner_headers)

    first = await client.patch(
        created.headers["location"], json={"priority": 1}, headers=owner_headers
    )
    second = await client.patch(
        created.headers["location"], json={"priority": 2}, headers=owner_headers
    )

    assert first.headers["etag"] == '"2"'
    assert second.headers["etag"] == '"3"'
    fetched = await client.get(created.headers["location"], headers=owner_headers)
    assert fetched.headers["etag"] == '"3"'


async def test_patch_updates_updated_at(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    task = await make_task(session, owner=owner, created_at=PAST)

    response = await client.patch(f"/tasks/{task.id}", json={"priority": 3}, headers=owner_headers)

    body = response.json()
    updated_at = parse_time(body["updated_at"])
    assert updated_at is not None
    assert updated_at > PAST
    assert parse_time(body["created_at"]) == PAST


async def test_patch_status_done_sets_completed_at(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    created = await create_task(client, owner_headers)

    response = await client.patch(
        created.headers["location"], json={"status": "done"}, headers=owner_headers
    )

    assert response.json()["status"] == "done"
    assert parse_time(response.json()["completed_at"]) is not None


async def test_patch_status_away_from_done_clears_completed_at(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    created = await create_task(client, owner_headers, status="done")

    response = await client.patch(
        created.headers["location"], json={"status": "in_progress"}, headers=owner_headers
    )

    assert response.json()["status"] == "in_progress"
    assert response.json()["completed_at"] is None


async def test_patch_status_done_again_keeps_the_first_completed_at(
    client: AsyncClient, session: AsyncSession, owner: User, owner_headers: dict[str, str]
) -> None:
    task = await make_task(session, owner=owner, status="done", created_at=PAST)
    await session.execute(
        text("UPDATE tasks SET completed_at = :at WHERE id = :id"), {"at": PAST, "id": task.id}
    )

    response = await client.patch(
        f"/tasks/{task.id}", json={"status": "done"}, headers=owner_headers
    )

    assert parse_time(response.json()["completed_at"]) == PAST


async def test_patch_other_fields_leave_completed_at_alone(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    created = await create_task(client, owner_headers, status="done")

    response = await client.patch(
        created.headers["location"], json={"title": "Still done"}, headers=owner_headers
    )

    assert response.json()["completed_at"] == created.json()["completed_at"]


async def test_patch_due_at_null_clears_the_due_date(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    created = await create_task(client, owner_headers, due_at="2030-06-01T12:00:00+00:00")

    response = await client.patch(
        created.headers["location"], json={"due_at": None}, headers=owner_headers
    )

    assert response.status_code == 200
    assert response.json()["due_at"] is None


async def test_patch_replaces_tags(client: AsyncClient, owner_headers: dict[str, str]) -> None:
    created = await create_task(client, owner_headers, tags=["old", "keep"])

    response = await client.patch(
        created.headers["location"], json={"tags": ["keep", "new", "new"]}, headers=owner_headers
    )

    assert response.json()["tags"] == ["keep", "new"]


@pytest.mark.parametrize("field", ["title", "description", "status", "priority", "tags"])
async def test_patch_refuses_null_for_a_required_field(
    client: AsyncClient, owner_headers: dict[str, str], field: str
) -> None:
    created = await create_task(client, owner_headers)

    response = await client.patch(
        created.headers["location"], json={field: None}, headers=owner_headers
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][:2] == ["body", field]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"title": "ab"}, id="title_too_short"),
        pytest.param({"title": "   "}, id="title_whitespace_only"),
        pytest.param({"priority": 4}, id="priority_above_range"),
        pytest.param({"status": "nope"}, id="status_unknown"),
        pytest.param({"due_at": "2030-01-01T00:00:00"}, id="due_at_without_timezone"),
        pytest.param({"due_at": "0001-01-01T00:00:00+14:00"}, id="due_at_out_of_range"),
        pytest.param({"due_at": 0}, id="due_at_a_number"),
        pytest.param({"due_at": "1900000000"}, id="due_at_digits"),
        pytest.param({"tags": ["x" * 51]}, id="tag_too_long"),
        pytest.param({"description": "nul\x00"}, id="nul_in_description"),
    ],
)
async def test_patch_rejects_invalid_values(
    client: AsyncClient, owner_headers: dict[str, str], body: dict[str, Any]
) -> None:
    created = await create_task(client, owner_headers)

    response = await client.patch(created.headers["location"], json=body, headers=owner_headers)

    assert response.status_code == 422
    after = await client.get(created.headers["location"], headers=owner_headers)
    assert after.headers["etag"] == created.headers["etag"]


async def test_empty_patch_returns_the_task_unchanged(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    created = await create_task(client, owner_headers)

    response = await client.patch(created.headers["location"], json={}, headers=owner_headers)

    assert response.status_code == 200
    assert response.headers["etag"] == created.headers["etag"]
    assert response.json() == created.json()


async def test_delete_returns_204_and_the_task_is_gone(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    created = await create_task(client, owner_headers)

    deleted = await client.delete(created.headers["location"], headers=owner_headers)

    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await client.get(created.headers["location"], headers=owner_headers)).status_code == 404


async def test_delete_twice_returns_404(client: AsyncClient, owner_headers: dict[str, str]) -> None:
    created = await create_task(client, owner_headers)
    await client.delete(created.headers["location"], headers=owner_headers)

    again = await client.delete(created.headers["location"], headers=owner_headers)

    assert again.status_code == 404


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("task_id", ["not-a-uuid", "123", "0" * 33])
async def test_malformed_task_id_in_path_is_422(
    client: AsyncClient, owner_headers: dict[str, str], method: str, task_id: str
) -> None:
    response = await client.request(
        method, f"/tasks/{task_id}", json={} if method == "PATCH" else None, headers=owner_headers
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["path", "task_id"]


async def test_requests_without_a_token_are_401(client: AsyncClient) -> None:
    for method, path in (
        ("GET", "/tasks"),
        ("POST", "/tasks"),
        ("GET", f"/tasks/{uuid.uuid4()}"),
        ("PATCH", f"/tasks/{uuid.uuid4()}"),
        ("DELETE", f"/tasks/{uuid.uuid4()}"),
    ):
        response = await client.request(method, path, json={"title": "Valid"})
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"


async def test_collection_path_works_with_a_trailing_slash(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    created = await client.post("/tasks/", json={"title": "Slash"}, headers=owner_headers)
    listed = await client.get("/tasks/", headers=owner_headers)

    assert created.status_code == 201
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["items"]] == [created.json()["id"]]
