"""Settings, read once from the environment and `.env` (names as in `.env.example`)."""

from __future__ import annotations

import secrets
from email import policy
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: Where dev state lives: embedded servers' data, the generated dev secret, the mail sink.
STATE_DIR = Path(".taskhub")
DEFAULT_JWT_SECRET = "change-me"
MIN_PROD_SECRET_BYTES = 32


class ConfigError(RuntimeError):
    """A setting makes it unsafe or impossible to start; the message is one line saying why."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # Application
    app_name: str = Field("TaskHub API", alias="APP_NAME")
    env: Literal["dev", "test", "prod"] = Field("dev", alias="ENV")
    app_debug: bool = Field(False, alias="APP_DEBUG")
    app_port: int = Field(8000, alias="APP_PORT")
    web_concurrency: int = Field(1, ge=1, alias="WEB_CONCURRENCY")
    # Proxies whose X-Forwarded-For is trusted (the ALB's subnet in AWS), so rate limits see clients
    forwarded_allow_ips: str = Field("127.0.0.1,::1", alias="FORWARDED_ALLOW_IPS")
    docs_enabled: bool = Field(True, alias="DOCS_ENABLED")
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list, alias="CORS_ORIGINS")
    max_body_bytes: int = Field(1024 * 1024, ge=1, alias="MAX_BODY_BYTES")
    log_level: str = Field("INFO", alias="LOG_LEVEL")
    log_format: Literal["text", "json"] = Field("text", alias="LOG_FORMAT")

    # PostgreSQL (None: `taskhub dev` starts an embedded server and fills it in)
    database_url: str | None = Field(None, alias="DATABASE_URL")
    sql_echo: bool = Field(False, alias="SQL_ECHO")
    # A fixed pool: overflow connections would be opened and closed per request under load.
    db_pool_size: int = Field(10, ge=1, alias="DB_POOL_SIZE")
    db_max_overflow: int = Field(0, ge=0, alias="DB_MAX_OVERFLOW")
    # asyncpg's own pool for the /tasks endpoints; the one above serves the rest.
    db_tasks_pool_size: int = Field(10, ge=1, alias="DB_TASKS_POOL_SIZE")
    db_connect_timeout_seconds: float = Field(5.0, gt=0, alias="DB_CONNECT_TIMEOUT_SECONDS")
    db_statement_timeout_ms: int = Field(5000, ge=0, alias="DB_STATEMENT_TIMEOUT_MS")

    # Redis (Celery broker and login rate-limit counters)
    redis_broker: str | None = Field(
        None, validation_alias=AliasChoices("REDIS_BROKER", "REDIS_URL"), alias="REDIS_BROKER"
    )
    redis_timeout_seconds: float = Field(0.5, gt=0, alias="REDIS_TIMEOUT_SECONDS")

    # Tokens and passwords
    jwt_secret: str = Field(DEFAULT_JWT_SECRET, alias="JWT_SECRET")
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = Field("HS256", alias="JWT_ALGORITHM")
    jwt_expire_minutes: int = Field(15, ge=1, alias="JWT_EXPIRE_MINUTES")
    jwt_refresh_days: int = Field(7, ge=1, alias="JWT_REFRESH_DAYS")
    password_hash_profile: Literal["owasp", "fast"] = Field("owasp", alias="PASSWORD_HASH_PROFILE")
    password_hash_concurrency: int = Field(2, ge=1, alias="PASSWORD_HASH_CONCURRENCY")

    # Failed-login rate limits (per username and per client IP, in a fixed window)
    login_max_failures_per_username: int = Field(5, ge=1, alias="LOGIN_MAX_FAILURES_PER_USERNAME")
    login_max_failures_per_ip: int = Field(20, ge=1, alias="LOGIN_MAX_FAILURES_PER_IP")
    login_failure_window_seconds: int = Field(900, ge=1, alias="LOGIN_FAILURE_WINDOW_SECONDS")

    # Idempotency keys are remembered this long
    idempotency_ttl_hours: int = Field(24, ge=1, alias="IDEMPOTENCY_TTL_HOURS")

    # Outgoing mail (in dev, `taskhub dev` runs a local SMTP sink that saves to .taskhub/mail/)
    smtp_host: str = Field("127.0.0.1", alias="SMTP_HOST")
    smtp_port: int = Field(1025, alias="SMTP_PORT")
    smtp_user: str | None = Field(None, alias="SMTP_USER")
    smtp_password: str | None = Field(None, alias="SMTP_PASSWORD")
    smtp_from: str = Field("TaskHub <no-reply@taskhub.local>", alias="SMTP_FROM")
    smtp_starttls: bool = Field(False, alias="SMTP_STARTTLS")
    smtp_timeout_seconds: float = Field(10.0, gt=0, alias="SMTP_TIMEOUT_SECONDS")

    # Background jobs (SPEC §6). The visibility timeout must exceed the longest job plus the
    # longest retry countdown, or Redis would hand a still-running job to a second worker.
    worker_concurrency: int = Field(4, ge=1, alias="WORKER_CONCURRENCY")  # I/O-bound jobs
    job_lease_seconds: float = Field(120.0, gt=0, alias="JOB_LEASE_SECONDS")
    job_max_attempts: int = Field(5, ge=1, alias="JOB_MAX_ATTEMPTS")
    job_retry_base_seconds: float = Field(5.0, gt=0, alias="JOB_RETRY_BASE_SECONDS")
    job_retry_max_seconds: float = Field(300.0, gt=0, alias="JOB_RETRY_MAX_SECONDS")
    celery_visibility_timeout_seconds: int = Field(
        3600, ge=1, alias="CELERY_VISIBILITY_TIMEOUT_SECONDS"
    )
    outbox_relay_seconds: float = Field(5.0, gt=0, alias="OUTBOX_RELAY_SECONDS")
    outbox_redeliver_after_seconds: float = Field(
        300.0, gt=0, alias="OUTBOX_REDELIVER_AFTER_SECONDS"
    )
    reminder_lead_minutes: int = Field(60, ge=1, alias="REMINDER_LEAD_MINUTES")
    reminder_sweep_seconds: float = Field(60.0, gt=0, alias="REMINDER_SWEEP_SECONDS")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_an_unusable_sender(self) -> Settings:
        sender = policy.default.header_factory("From", self.smtp_from)
        if sender.defects or len(sender.addresses) != 1 or "@" not in sender.addresses[0].addr_spec:
            raise ConfigError(
                f"SMTP_FROM={self.smtp_from!r} is not one mail address;"
                " use e.g. 'TaskHub <no-reply@example.com>'"
            )
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_settings(self) -> Settings:
        if (
            self.celery_visibility_timeout_seconds
            <= self.job_lease_seconds + self.job_retry_max_seconds
        ):
            raise ConfigError(
                "CELERY_VISIBILITY_TIMEOUT_SECONDS must exceed JOB_LEASE_SECONDS + JOB_RETRY_MAX_SECONDS"
            )
        if self.env == "prod":
            if self.jwt_secret == DEFAULT_JWT_SECRET:
                raise ConfigError(
                    "JWT_SECRET is unset or the default; set a random secret of 32+ bytes"
                )
            if len(self.jwt_secret.encode()) < MIN_PROD_SECRET_BYTES:
                raise ConfigError(
                    f"JWT_SECRET is shorter than {MIN_PROD_SECRET_BYTES} bytes; use a longer random secret"
                )
            if "*" in self.cors_origins:
                raise ConfigError("CORS_ORIGINS must list origins explicitly in prod, not '*'")
        elif self.jwt_secret == DEFAULT_JWT_SECRET:
            self.jwt_secret = _dev_secret()
        return self

    def require_database_url(self) -> str:
        if not self.database_url:
            raise ConfigError("DATABASE_URL is not set; run `make run` for an embedded database")
        return self.database_url

    def require_redis_url(self) -> str:
        if not self.redis_broker:
            raise ConfigError(
                "REDIS_BROKER (or REDIS_URL) is not set; run `make run` for an embedded Redis"
            )
        return self.redis_broker


def _dev_secret() -> str:
    """A per-checkout secret, generated once so dev tokens survive restarts."""
    path = STATE_DIR / "jwt_secret"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret)
    path.chmod(0o600)
    return secret


@lru_cache
def get_settings() -> Settings:
    return Settings()
