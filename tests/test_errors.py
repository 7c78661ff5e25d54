"""Errors and edges: problem+json everywhere, body limits, hostile input, request ids, headers."""

from __future__ import annotations

import multiprocessing
import re
from collections.abc import AsyncIterator

import pytest
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.main import create_app
from app.middleware import _request_id
from tests.factories import auth_headers, make_user

PROBLEM_JSON = "application/problem+json"
VALID_REGISTRATION = b'{"username": "edge_user", "password": "long enough password"}'


def assert_problem(response: Response, status: int) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert isinstance(body["type"], str)
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


async def _post_raw(client: AsyncClient, path: str, content: bytes) -> Response:
    return await client.post(path, content=content, headers={"Content-Type": "application/json"})


async def test_unknown_route_is_problem_json_404(client: AsyncClient) -> None:
    response = await client.get("/no/such/route")

    assert_problem(response, 404)


async def test_wrong_method_is_problem_json_405(client: AsyncClient) -> None:
    response = await client.delete("/auth/me")

    assert_problem(response, 405)
    assert "GET" in response.headers["allow"]


async def test_domain_error_is_problem_json(client: AsyncClient) -> None:
    response = await client.get("/auth/me")

    body = assert_problem(response, 401)
    assert body["title"] == "Unauthorized"


async def test_validation_error_lists_loc_msg_and_type(client: AsyncClient) -> None:
    response = await client.post(
        "/auth/register", json={"username": "ab", "password": "short", "email": "nope"}
    )

    body = assert_problem(response, 422)
    errors = body["errors"]
    assert isinstance(errors, list)
    assert {tuple(error["loc"]) for error in errors} == {
        ("body", "username"),
        ("body", "password"),
        ("body", "email"),
    }
    for error in errors:
        assert set(error) == {"loc", "msg", "type"}
        assert error["msg"]
        assert error["type"]
    assert str(body["detail"]).startswith("body.")


async def test_missing_body_is_422(client: AsyncClient) -> None:
    response = await client.post("/auth/register")

    body = assert_problem(response, 422)
    assert body["errors"]


async def test_malformed_json_is_422(client: AsyncClient) -> None:
    response = await _post_raw(client, "/auth/register", b'{"username": "abc", "password": ')

    body = assert_problem(response, 422)
    assert [error["type"] for error in body["errors"]] == ["json_invalid"]  # type: ignore[attr-defined]


async def test_json_of_the_wrong_shape_is_422(client: AsyncClient) -> None:
    response = await _post_raw(client, "/auth/register", b'["a", "list"]')

    assert_problem(response, 422)


async def test_json_body_that_is_not_utf8_is_422(client: AsyncClient) -> None:
    response = await _post_raw(client, "/auth/register", b'{"username": "\xff\xfe"}')

    body = assert_problem(response, 422)
    assert body["errors"] == [
        {"loc": ["body"], "msg": "JSON body is not valid UTF-8", "type": "json_invalid"}
    ]


@pytest.mark.parametrize(
    "content",
    [
        b'{"username": "nul_user", "password": "has a \\u0000 nul byte"}',
        b'{"username": "nul\\u0000user", "password": "long enough password"}',
    ],
    ids=["password", "username"],
)
async def test_nul_byte_in_a_string_field_is_422(client: AsyncClient, content: bytes) -> None:
    response = await _post_raw(client, "/auth/register", content)

    assert_problem(response, 422)


async def test_nul_byte_in_a_stored_task_field_is_422(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(session)

    response = await client.post(
        "/tasks", json={"title": "nul \x00 title"}, headers=auth_headers(settings, user)
    )

    assert_problem(response, 422)


async def test_nul_byte_in_a_query_parameter_is_422(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(session)

    response = await client.get(
        "/tasks", params={"q": "a\x00b"}, headers=auth_headers(settings, user)
    )

    assert_problem(response, 422)


@pytest.mark.parametrize(
    "content",
    [
        b'{"username": "surrogate", "password": "lone \\ud800 surrogate"}',
        b'{"username": "surrogate", "password": "long enough password", "\\udc00": 1}',
    ],
    ids=["in-a-value", "in-a-key"],
)
async def test_lone_surrogate_is_422(client: AsyncClient, content: bytes) -> None:
    response = await _post_raw(client, "/auth/register", content)

    assert_problem(response, 422)


async def test_body_over_the_limit_with_content_length_is_413(
    client: AsyncClient, settings: Settings
) -> None:
    content = b'{"username": "' + b"x" * settings.max_body_bytes + b'"}'

    response = await _post_raw(client, "/auth/register", content)

    assert_problem(response, 413)
    assert response.headers["x-request-id"]


async def test_streamed_body_over_the_limit_is_413(client: AsyncClient, settings: Settings) -> None:
    chunk = b"x" * 65536

    async def body() -> AsyncIterator[bytes]:
        yield b'{"username": "'
        for _ in range(settings.max_body_bytes // len(chunk) + 1):
            yield chunk
        yield b'"}'

    response = await client.post(
        "/auth/register", content=body(), headers={"Content-Type": "application/json"}
    )

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413)


async def test_body_at_the_limit_is_parsed(client: AsyncClient, settings: Settings) -> None:
    prefix, suffix = b'{"username": "abc", "password": "', b'"}'
    content = prefix + b"x" * (settings.max_body_bytes - len(prefix) - len(suffix)) + suffix
    assert len(content) == settings.max_body_bytes

    response = await _post_raw(client, "/auth/register", content)

    assert_problem(response, 422)  # too long a password: parsed, not refused for size


async def test_unexpected_error_is_problem_json_500(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("an unexpected failure")

    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/boom", headers={"X-Request-ID": "trace-500"})

    body = assert_problem(response, 500)
    assert "unexpected failure" not in str(body)
    assert response.headers["x-request-id"] == "trace-500"


async def test_sane_request_id_is_echoed(client: AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "abc-123.DEF:456_x"})

    assert response.headers["x-request-id"] == "abc-123.DEF:456_x"


async def test_request_id_is_generated_when_absent(client: AsyncClient) -> None:
    first = await client.get("/health")
    second = await client.get("/health")

    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


def _generated_request_id() -> str:
    return _request_id({"headers": []})


def test_forked_worker_processes_generate_different_request_ids() -> None:
    """uvicorn and gunicorn may fork workers from one parent: each must draw its own ids."""
    with multiprocessing.get_context("fork").Pool(1) as pool:
        in_child = pool.apply(_generated_request_id)

    assert in_child != _generated_request_id()


@pytest.mark.parametrize(
    "insane",
    ["x" * 500, "has spaces", 'quote"d', "<script>", "", "trailing-newline\n"],
    ids=["long", "spaces", "quote", "markup", "empty", "trailing-newline"],
)
async def test_insane_request_id_is_replaced(client: AsyncClient, insane: str) -> None:
    response = await client.get("/health", headers={"X-Request-ID": insane})

    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


@pytest.mark.parametrize("path", ["/health", "/no/such/route", "/auth/me"])
async def test_security_headers_are_on_every_response(client: AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in response.headers["content-security-policy"]


async def test_docs_page_is_not_blocked_by_the_api_content_security_policy(
    client: AsyncClient,
) -> None:
    response = await client.get("/docs")

    assert response.status_code == 200
    assert "content-security-policy" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/tasks", "/tasks/"])
async def test_tasks_list_works_with_and_without_trailing_slash(
    client: AsyncClient, session: AsyncSession, settings: Settings, path: str
) -> None:
    user = await make_user(session)

    response = await client.get(path, headers=auth_headers(settings, user))

    assert response.status_code == 200
    assert "location" not in response.headers
    assert response.json()["items"] == []


async def test_task_create_works_with_a_trailing_slash(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(session)

    response = await client.post(
        "/tasks/", json={"title": "slash task"}, headers=auth_headers(settings, user)
    )

    assert response.status_code == 201


async def test_unknown_query_parameters_are_ignored(
    client: AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(session)

    response = await client.get(
        "/tasks", params={"bogus": "1", "limit": "5"}, headers=auth_headers(settings, user)
    )

    assert response.status_code == 200
    assert response.json()["meta"]["limit"] == 5


@pytest.fixture
async def cors_client(settings: Settings) -> AsyncIterator[AsyncClient]:
    app = create_app(settings.model_copy(update={"cors_origins": ["https://app.example.com"]}))
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as http:
        yield http


async def test_cors_preflight_allows_a_configured_origin(cors_client: AsyncClient) -> None:
    response = await cors_client.options(
        "/tasks",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Idempotency-Key",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-credentials" not in response.headers


async def test_cors_ignores_an_unlisted_origin(cors_client: AsyncClient) -> None:
    response = await cors_client.get("/health", headers={"Origin": "https://evil.example.net"})

    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
