"""ETags and preconditions: If-None-Match on GET, If-Match on PATCH and DELETE."""

from __future__ import annotations

import asyncio

import pytest
from httpx import AsyncClient, Response

from tests.tasks.support import create_task, register_and_login


async def _modified(client: AsyncClient, headers: dict[str, str]) -> tuple[Response, str]:
    """A task at version 2, and the ETag it had at version 1."""
    created = await create_task(client, headers)
    updated = await client.patch(created.headers["location"], json={"priority": 1}, headers=headers)
    assert updated.headers["etag"] == '"2"'
    return updated, created.headers["etag"]


async def test_if_none_match_with_the_current_etag_is_304_without_body(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    created = await create_task(client, owner_headers)

    response = await client.get(
        created.headers["location"],
        headers=owner_headers | {"If-None-Match": created.headers["etag"]},
    )

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == created.headers["etag"]


@pytest.mark.parametrize("header", ['W/"1"', '"7", "1"', "*"], ids=["weak", "listed", "star"])
async def test_if_none_match_with_a_weak_listed_or_star_etag_is_304(
    client: AsyncClient, owner_headers: dict[str, str], header: str
) -> None:
    created = await create_task(client, owner_headers)

    response = await client.get(
        created.headers["location"], headers=owner_headers | {"If-None-Match": header}
    )

    assert response.status_code == 304


async def test_if_none_match_with_an_old_etag_is_200(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    updated, old_etag = await _modified(client, owner_headers)

    response = await client.get(
        f"/tasks/{updated.json()['id']}", headers=owner_headers | {"If-None-Match": old_etag}
    )

    assert response.status_code == 200
    assert response.json() == updated.json()
    assert response.headers["etag"] == '"2"'


async def test_if_match_stale_is_412_and_changes_nothing(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    updated, old_etag = await _modified(client, owner_headers)
    location = f"/tasks/{updated.json()['id']}"

    response = await client.patch(
        location, json={"title": "Lost update"}, headers=owner_headers | {"If-Match": old_etag}
    )

    assert response.status_code == 412
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 412
    after = await client.get(location, headers=owner_headers)
    assert after.json() == updated.json()
    assert after.headers["etag"] == '"2"'


async def test_if_match_with_a_weak_etag_is_412(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    created = await create_task(client, owner_headers)

    response = await client.patch(
        created.headers["location"],
        json={"title": "Weak"},
        headers=owner_headers | {"If-Match": 'W/"1"'},
    )

    assert response.status_code == 412


async def test_if_match_stale_on_an_empty_patch_is_412(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    updated, old_etag = await _modified(client, owner_headers)

    response = await client.patch(
        f"/tasks/{updated.json()['id']}", json={}, headers=owner_headers | {"If-Match": old_etag}
    )

    assert response.status_code == 412


async def test_if_match_current_is_200(client: AsyncClient, owner_headers: dict[str, str]) -> None:
    updated, _ = await _modified(client, owner_headers)

    response = await client.patch(
        f"/tasks/{updated.json()['id']}",
        json={"title": "Fresh update"},
        headers=owner_headers | {"If-Match": updated.headers["etag"]},
    )

    assert response.status_code == 200
    assert response.json()["title"] == "Fresh update"
    assert response.headers["etag"] == '"3"'


async def test_if_match_listing_the_current_etag_among_others_is_200(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    updated, old_etag = await _modified(client, owner_headers)

    response = await client.patch(
        f"/tasks/{updated.json()['id']}",
        json={"priority": 3},
        headers=owner_headers | {"If-Match": f'{old_etag}, "2"'},
    )

    assert response.status_code == 200


async def test_if_match_star_is_200(client: AsyncClient, owner_headers: dict[str, str]) -> None:
    updated, _ = await _modified(client, owner_headers)

    response = await client.patch(
        f"/tasks/{updated.json()['id']}",
        json={"priority": 3},
        headers=owner_headers | {"If-Match": "*"},
    )

    assert response.status_code == 200
    assert response.json()["priority"] == 3


async def test_delete_with_a_stale_if_match_is_412_and_keeps_the_task(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    updated, old_etag = await _modified(client, owner_headers)
    location = f"/tasks/{updated.json()['id']}"

    response = await client.delete(location, headers=owner_headers | {"If-Match": old_etag})

    assert response.status_code == 412
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get(location, headers=owner_headers)).status_code == 200


async def test_delete_with_the_current_if_match_is_204(
    client: AsyncClient, owner_headers: dict[str, str]
) -> None:
    updated, _ = await _modified(client, owner_headers)
    location = f"/tasks/{updated.json()['id']}"

    response = await client.delete(location, headers=owner_headers | {"If-Match": '"2"'})

    assert response.status_code == 204
    assert (await client.get(location, headers=owner_headers)).status_code == 404


async def test_concurrent_patches_with_one_etag_let_exactly_one_win(
    live_client: AsyncClient,
) -> None:
    headers = await register_and_login(live_client)
    created = await create_task(live_client, headers)
    conditional = headers | {"If-Match": created.headers["etag"]}

    responses = await asyncio.gather(
        *(
            live_client.patch(
                created.headers["location"], json={"title": f"Writer {i}"}, headers=conditional
            )
            for i in range(2)
        )
    )

    assert sorted(response.status_code for response in responses) == [200, 412]
    winner = next(response for response in responses if response.status_code == 200)
    final = await live_client.get(created.headers["location"], headers=headers)
    assert final.json()["title"] == winner.json()["title"]
    assert final.headers["etag"] == '"2"'
