"""Settings: production refuses unsafe secrets and origins; aliases and lists parse."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from app.config import ConfigError, Settings

GOOD_SECRET = "s" * 32


@pytest.fixture
def prod_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("ENV", "prod")
    monkeypatch.setenv("JWT_SECRET", GOOD_SECRET)
    monkeypatch.delenv("CORS_ORIGINS", raising=False)
    return monkeypatch


def _load() -> Settings:
    return Settings(_env_file=None)


def _refusal() -> str:
    with pytest.raises(ConfigError) as refused:
        _load()
    message = str(refused.value)
    assert message
    assert "\n" not in message
    return message


def test_prod_refuses_a_missing_jwt_secret(prod_env: pytest.MonkeyPatch) -> None:
    prod_env.delenv("JWT_SECRET")

    assert "JWT_SECRET" in _refusal()


def test_prod_refuses_the_default_jwt_secret(prod_env: pytest.MonkeyPatch) -> None:
    prod_env.setenv("JWT_SECRET", "change-me")

    assert "JWT_SECRET" in _refusal()


def test_prod_refuses_a_jwt_secret_shorter_than_32_bytes(prod_env: pytest.MonkeyPatch) -> None:
    prod_env.setenv("JWT_SECRET", "s" * 31)

    message = _refusal()

    assert "JWT_SECRET" in message
    assert "32" in message


def test_prod_measures_the_jwt_secret_in_bytes(prod_env: pytest.MonkeyPatch) -> None:
    prod_env.setenv("JWT_SECRET", "ü" * 16)  # 16 characters, 32 bytes in UTF-8

    assert _load().jwt_secret == "ü" * 16


def test_prod_accepts_a_32_byte_jwt_secret(prod_env: pytest.MonkeyPatch) -> None:
    settings = _load()

    assert settings.env == "prod"
    assert settings.jwt_secret == GOOD_SECRET


def test_prod_refuses_wildcard_cors_origins(prod_env: pytest.MonkeyPatch) -> None:
    prod_env.setenv("CORS_ORIGINS", "https://app.example.com,*")

    assert "CORS_ORIGINS" in _refusal()


def test_cors_origins_parse_from_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", " https://a.example.com , https://b.example.com,, ")

    assert _load().cors_origins == ["https://a.example.com", "https://b.example.com"]


def test_cors_origins_default_to_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CORS_ORIGINS", raising=False)

    assert _load().cors_origins == []


def test_redis_url_is_accepted_as_an_alias_of_redis_broker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REDIS_BROKER", raising=False)
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6380/2")

    assert _load().redis_broker == "redis://cache.internal:6380/2"


def test_redis_broker_takes_precedence_over_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_BROKER", "redis://broker.internal:6379/0")
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6380/2")

    assert _load().redis_broker == "redis://broker.internal:6379/0"


def test_missing_redis_url_is_a_one_line_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_BROKER", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    settings = _load()

    with pytest.raises(ConfigError, match="REDIS_BROKER") as refused:
        settings.require_redis_url()
    assert "\n" not in str(refused.value)


def test_dev_generates_a_jwt_secret_once_and_keeps_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENV", "dev")
    monkeypatch.delenv("JWT_SECRET")

    first, second = _load(), _load()

    kept = tmp_path / ".taskhub" / "jwt_secret"
    assert first.jwt_secret == second.jwt_secret == kept.read_text()
    assert len(first.jwt_secret.encode()) >= 32
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_statement_timeout_bounds_the_client_too(settings: Settings) -> None:
    from app.db import connect_args

    bounded = connect_args(settings.model_copy(update={"db_statement_timeout_ms": 2500}))
    assert bounded["server_settings"]["statement_timeout"] == "2500"
    assert bounded["command_timeout"] == 3.5


def test_no_statement_timeout_means_no_client_timeout(settings: Settings) -> None:
    from app.db import connect_args

    unbounded = connect_args(settings.model_copy(update={"db_statement_timeout_ms": 0}))
    assert unbounded["server_settings"]["statement_timeout"] == "0"
    assert unbounded["command_timeout"] is None


@pytest.mark.parametrize("sender", ["", "no-reply", "a@example.com, b@example.com", "TaskHub <a@b"])
def test_smtp_from_must_be_one_address(monkeypatch: pytest.MonkeyPatch, sender: str) -> None:
    monkeypatch.setenv("SMTP_FROM", sender)
    assert "SMTP_FROM" in _refusal()


def test_smtp_from_accepts_a_display_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_FROM", "TaskHub <no-reply@example.com>")
    assert _load().smtp_from == "TaskHub <no-reply@example.com>"
