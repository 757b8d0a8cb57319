"""Alembic environment: the URL comes from MUTT's settings unless the caller set one."""

from alembic import context

from mutt_app import config as mutt_config
from mutt_app.storage import partitions
from mutt_app.storage.db import engine
from mutt_app.storage.models import EVENT_SEARCH_INDEXES, Base

target_metadata = Base.metadata


def include_object(obj, name, type_, reflected, compare_to):
    # Monthly partitions of event_audit are made at run time, not declared in the models; the
    # event search's GIN indexes exist on PostgreSQL only (migration 0005).
    if reflected and compare_to is None and type_ == "index" and name in EVENT_SEARCH_INDEXES:
        return False
    return not (type_ == "table" and reflected and compare_to is None and partitions.is_partition_name(name))


def run_migrations() -> None:
    url = context.config.get_main_option("sqlalchemy.url") or mutt_config.get().database_url
    with engine(url).connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":  # a migration may rewrite a big table
                connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            context.run_migrations()


run_migrations()
