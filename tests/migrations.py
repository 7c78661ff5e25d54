"""Run Alembic against a given database URL, as `alembic upgrade head` would."""

from __future__ import annotations

from alembic import command
from alembic.config import Config


def alembic_config(database_url: str) -> Config:
    config = Config("alembic.ini")
    config.attributes["configure_logging"] = False
    config.attributes["url"] = database_url
    return config


def upgrade_head(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")
