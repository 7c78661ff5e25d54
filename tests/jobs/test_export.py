"""POST /tasks/export → 202; GET /jobs/{id} for the owner only; the result matches the tasks."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid

import orjson
from httpx import AsyncClient

from tests.jobs.stack import JobStack


async def _user(client: AsyncClient) -> dict[str, str]:
    name = f"exp_{uuid.uuid4().hex[:12]}"
    response = await client.post(
        "/auth/register", json={"username": name, "password": "password123"}
    )
    assert response.status_code == 201
    token = await client.post("/auth/login", data={"username": name, "password": "password123"})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def _all_tasks(client: AsyncClient, headers: dict[str, str]) -> list[dict[str, object]]:
    tasks: list[dict[str, object]] = []
    cursor = None
    while True:
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/tasks", params=params, headers=headers)).json()
        tasks += page["items"]
        cursor = page["meta"]["next_cursor"]
        if cursor is None:
            return tasks


async def _wait_for(
    client: AsyncClient, url: str, headers: dict[str, str], status: str
) -> dict[str, object]:
    for _ in range(300):
        body = (await client.get(url, headers=headers)).json()
        if body["status"] == status:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never reached {status}: {body}")


async def test_export_result_matches_the_callers_tasks(
    stack: JobStack, jobs_client: AsyncClient
) -> None:
    owner = await _user(jobs_client)
    other = await _user(jobs_client)
    for index in range(130):
        body = {"title": f"Export me {index}", "tags": ["a", "b"], "priority": index % 4}
        assert (await jobs_client.post("/tasks", json=body, headers=owner)).status_code == 201
    assert (
        await jobs_client.post("/tasks", json={"title": "Not mine"}, headers=other)
    ).status_code == 201

    started = await jobs_client.post("/tasks/export", headers=owner)
    assert started.status_code == 202
    job = started.json()
    assert job["job_id"].startswith("export:")
    assert started.headers["Location"] == job["status_url"] == f"/jobs/{job['job_id']}"

    queued = await jobs_client.get(job["status_url"], headers=owner)
    assert queued.json()["status"] == "queued"  # no worker yet
    too_early = await jobs_client.get(f"{job['status_url']}/result", headers=owner)
    assert too_early.status_code == 409
    assert too_early.headers["content-type"] == "application/problem+json"
    assert (await jobs_client.get(job["status_url"], headers=other)).status_code == 404
    assert (await jobs_client.get(f"{job['status_url']}/result", headers=other)).status_code == 404

    # Off the event loop: the app's background publisher shares it, and blocked between its
    # UPDATE of the outbox row and the COMMIT, it would hold the row lock the job's success mark
    # needs for as long as the worker takes to boot (past the test's 2 s lease).
    await asyncio.to_thread(stack.start_worker)
    await asyncio.to_thread(stack.start_beat)
    done = await _wait_for(jobs_client, job["status_url"], owner, "succeeded")
    assert done["attempts"] == 1
    assert done["result"] == {"count": 130}
    assert done["result_url"] == f"/jobs/{job['job_id']}/result"

    expected = await _all_tasks(jobs_client, owner)
    jsonl = await jobs_client.get(done["result_url"], headers=owner)
    assert jsonl.status_code == 200
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    exported = [orjson.loads(line) for line in jsonl.text.splitlines()]
    assert sorted(exported, key=lambda t: str(t["id"])) == sorted(
        expected, key=lambda t: str(t["id"])
    )

    as_csv = await jobs_client.get(done["result_url"], params={"format": "csv"}, headers=owner)
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) == 130
    assert {row["id"] for row in rows} == {str(task["id"]) for task in expected}
    assert all(row["tags"] == "a;b" for row in rows)


async def test_unknown_job_is_not_found(jobs_client: AsyncClient) -> None:
    headers = await _user(jobs_client)
    response = await jobs_client.get("/jobs/export:nope", headers=headers)
    assert response.status_code == 404
    assert response.json()["detail"] == "Job not found"
