"""The migrations build exactly the models, up and down, on SQLite and PostgreSQL."""

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from mutt_app.storage import migrate, partitions
from mutt_app.storage.db import engine


def test_there_is_one_migration_head():
    assert len(ScriptDirectory.from_config(migrate.alembic_config()).get_heads()) == 1


def test_upgrade_downgrade_upgrade_and_no_drift_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    assert set(inspect(engine(url)).get_table_names()) == {"alembic_version"}
    migrate.upgrade(url)
    command.check(migrate.alembic_config(url))  # raises if autogenerate finds a difference


def test_upgrade_downgrade_upgrade_and_no_drift_on_postgresql(pg_url):
    migrate.downgrade(pg_url, "base")
    assert set(inspect(engine(pg_url)).get_table_names()) == {"alembic_version"}
    migrate.upgrade(pg_url)
    command.check(migrate.alembic_config(pg_url))
    with engine(pg_url).connect() as connection:
        made = partitions.existing(connection)
    assert partitions.DEFAULT_PARTITION in made
    assert len([name for name in made if name != partitions.DEFAULT_PARTITION]) >= 4
