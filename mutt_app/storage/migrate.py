"""Apply the Alembic migrations (the `mutt db upgrade` command and the embedded start-up)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from mutt_app import config
from mutt_app.storage import partitions
from mutt_app.storage.db import engine

# Inside the package, so that an installed (non-editable) MUTT can migrate its database.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", (url or config.get().database_url).replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)
    with engine(url).begin() as connection:
        partitions.ensure_ahead(connection)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
