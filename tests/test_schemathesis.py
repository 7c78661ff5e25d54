"""Every operation in the OpenAPI schema, fuzzed by schemathesis as an authenticated user.

Requests commit for real, so the run gets its own database and Redis database: nothing it creates
can reach the other tests. Each operation is a test of its own, in positive mode (valid requests
per the schema) and negative mode (invalid ones); both must never give a 5xx and every response
must match the documented status codes, content types, headers and bodies.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from redis import Redis
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.auth.deps import app_settings
from app.config import Settings, get_settings
from app.main import app as default_app
from app.main import create_app
from tests import services as test_services
from tests.migrations import upgrade_head

MAX_EXAMPLES = 25
FUZZ_REDIS_DB = 15
CONFORMANCE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

_ANNOTATIONS = {"title", "description", "default", "examples"}


def _constrained(schema: dict[str, Any]) -> bool:
    """Whether some value breaks this parameter schema (any string fits a bare string)."""
    if "anyOf" in schema:
        return any(_constrained(option) for option in schema["anyOf"] if option != {"type": "null"})
    return {key: value for key, value in schema.items() if key not in _ANNOTATIONS} != {
        "type": "string"
    }


def _negatable(operation: dict[str, Any]) -> bool:
    """Whether an invalid request exists for this operation: it takes a body or a constrained
    parameter (schemathesis cannot make one up for `GET /health` or a free-form path string)."""
    parameters = operation.get("parameters", [])
    return "requestBody" in operation or any(_constrained(p["schema"]) for p in parameters)


_PATHS: dict[str, dict[str, dict[str, Any]]] = default_app.openapi()["paths"]
OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in _PATHS.items()
    for method in item
    if method in {"get", "put", "post", "patch", "delete"}
)
NEGATABLE_OPERATIONS = [
    (method, path) for method, path in OPERATIONS if _negatable(_PATHS[path][method.lower()])
]


@dataclass(frozen=True)
class FuzzTarget:
    app: FastAPI
    client: asgi.ASGIClient
    redis_url: str


def _redis_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


@pytest.fixture(scope="module")
def fuzz_settings(services: test_services.TestServices) -> Settings:
    database_url = services.create_database("taskhub_fuzz")
    with ThreadPoolExecutor(1) as pool:  # env.py runs an event loop of its own: not on this thread
        pool.submit(upgrade_head, database_url).result()
    return get_settings().model_copy(
        update={
            "database_url": database_url,
            "redis_broker": _redis_db(services.redis_url, FUZZ_REDIS_DB),
        }
    )


@pytest.fixture(scope="module")
def target(fuzz_settings: Settings) -> Iterator[FuzzTarget]:
    """The app on its own database, served in-process by schemathesis's ASGI client (its
    lifespan runs in that client's event loop)."""
    app = create_app(fuzz_settings)
    app.dependency_overrides[app_settings] = lambda: fuzz_settings
    redis_url = fuzz_settings.require_redis_url()
    try:
        with asgi.get_client(cast(asgi.ASGIApp, app)) as client:
            yield FuzzTarget(app, client, redis_url)
    finally:
        asgi.shutdown_lifespans()
        with Redis.from_url(redis_url) as redis:
            redis.flushdb()  # the broker messages of the jobs it enqueued


@pytest.fixture
def auth(target: FuzzTarget) -> dict[str, str]:
    """A new user per test, and no rate-limit counters from the tests before: what one
    operation's run leaves behind (idempotency keys, failed logins) cannot sway another's."""
    with Redis.from_url(target.redis_url) as redis:
        redis.flushdb()
    username, password = f"fuzz_{uuid.uuid4().hex[:12]}", "fuzzing password"
    registered = target.client.post(
        "/auth/register", json={"username": username, "password": password}
    )
    assert registered.status_code == 201, registered.text
    tokens = target.client.post("/auth/login", data={"username": username, "password": password})
    assert tokens.status_code == 200, tokens.text
    return {"Authorization": f"Bearer {tokens.json()['access_token']}"}


def _run(
    target: FuzzTarget, auth: dict[str, str], method: str, path: str, mode: GenerationMode
) -> None:
    # A schema per test: schemathesis learns from the responses it sees, and one operation's
    # run must not steer what another's generates.
    schema = schemathesis.openapi.from_asgi("/openapi.json", target.app)
    operation = schema[path][method]
    checks = list(CONFORMANCE_CHECKS)
    if mode is GenerationMode.NEGATIVE:
        checks.append(negative_data_rejection)

    @hypothesis_settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: Case[Any]) -> None:
        response = case.call(session=target.client, headers=auth)
        case.validate_response(response, checks=checks, headers=auth)

    fuzz()


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_valid_requests_conform_to_the_schema(
    target: FuzzTarget, auth: dict[str, str], method: str, path: str
) -> None:
    _run(target, auth, method, path, GenerationMode.POSITIVE)


@pytest.mark.parametrize(
    ("method", "path"), NEGATABLE_OPERATIONS, ids=[f"{m} {p}" for m, p in NEGATABLE_OPERATIONS]
)
def test_invalid_requests_are_rejected_as_documented(
    target: FuzzTarget, auth: dict[str, str], method: str, path: str
) -> None:
    _run(target, auth, method, path, GenerationMode.NEGATIVE)
