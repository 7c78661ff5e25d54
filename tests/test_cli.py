"""The `taskhub` command's data tools, against the test database."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from typer.testing import CliRunner

from app.cli import app as cli
from app.config import Settings
from tests.services import TestServices

runner = CliRunner()


def _count(services: TestServices, sql: str, *params: object) -> int:
    dsn = services.database_url.replace("+asyncpg", "")
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


def test_create_user_creates_an_active_user_with_a_welcome_job(services: TestServices) -> None:
    name = f"cli_{uuid.uuid4().hex[:8]}"
    result = runner.invoke(
        cli, ["create-user", name, "--password", "password123", "--email", "cli@example.com"]
    )
    assert result.exit_code == 0, result.output
    assert f"created user {name}" in result.output
    assert (
        _count(services, "SELECT count(*) FROM users WHERE username = %s AND is_active", name) == 1
    )
    assert (
        _count(
            services,
            "SELECT count(*) FROM outbox o JOIN users u ON u.id = o.owner_id WHERE u.username = %s",
            name,
        )
        == 1
    )


def test_create_user_refuses_a_taken_username_with_one_line(services: TestServices) -> None:
    name = f"cli_{uuid.uuid4().hex[:8]}"
    assert runner.invoke(cli, ["create-user", name, "--password", "password123"]).exit_code == 0
    again = runner.invoke(cli, ["create-user", name.upper(), "--password", "password123"])
    assert again.exit_code == 1
    assert "That username is already taken" in again.output
    assert "Traceback" not in again.output


@pytest.mark.parametrize(
    ("username", "password", "complaint"),
    [("ab", "password123", "username"), ("fine_name", "short", "password")],
)
def test_create_user_refuses_invalid_input(username: str, password: str, complaint: str) -> None:
    result = runner.invoke(cli, ["create-user", username, "--password", password])
    assert result.exit_code == 1
    assert complaint in result.output
    assert "Traceback" not in result.output


def test_seed_creates_users_and_their_tasks(services: TestServices) -> None:
    before = _count(
        services,
        "SELECT count(*) FROM tasks t JOIN users u ON u.id = t.owner_id WHERE u.username LIKE 'seed\\_%%'",
    )
    result = runner.invoke(cli, ["seed", "--users", "2", "--tasks", "150"])
    assert result.exit_code == 0, result.output
    after = _count(
        services,
        "SELECT count(*) FROM tasks t JOIN users u ON u.id = t.owner_id WHERE u.username LIKE 'seed\\_%%'",
    )
    assert after - before == 300
    assert (
        _count(services, "SELECT count(*) FROM users WHERE username IN ('seed_0', 'seed_1')") == 2
    )


async def test_docs_can_be_turned_off(settings: Settings) -> None:
    from app.main import create_app

    application: FastAPI = create_app(settings.model_copy(update={"docs_enabled": False}))
    async with AsyncClient(transport=ASGITransport(app=application), base_url="http://t") as http:
        assert (await http.get("/docs")).status_code == 404
        assert (await http.get("/openapi.json")).status_code == 404
        assert (await http.get("/health")).status_code == 200
