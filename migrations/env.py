"""Alembic environment for both kinds of revisions.

The caller (``motcua.tenancy.migrate``) passes an open connection and the target schema in
``config.attributes``; the ``alembic`` command line passes ``-x schema=...`` instead. Each schema
keeps its own ``alembic_version`` table, and a whole upgrade of one schema is one transaction,
so a crash leaves that schema at its previous revision and a re-run simply continues.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, text

from motcua.core.db import search_path_sql, sync_engine

config = context.config


def _run(connection: Connection, schema: str) -> None:
    if schema == "platform":
        connection.execute(text("CREATE SCHEMA IF NOT EXISTS platform"))
        connection.execute(text("SET LOCAL search_path TO platform"))
    else:
        connection.execute(text(search_path_sql(schema)))
    context.configure(
        connection=connection,
        version_table_schema=schema,
        transaction_per_migration=False,
    )
    context.run_migrations()


def run_migrations_online() -> None:
    schema = config.attributes.get("schema") or context.get_x_argument(as_dictionary=True).get("schema")
    if not schema:
        raise SystemExit("choose a schema: -x schema=platform or -x schema=t_<slug>")
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection, schema)
        return
    url = os.environ.get("MOTCUA_DATABASE_URL")
    if not url:
        raise SystemExit("MOTCUA_DATABASE_URL: required to run alembic directly")
    engine = sync_engine(url, pool_size=0)
    with engine.connect() as conn, conn.begin():
        _run(conn, schema)


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported: schemas are chosen at run time")
run_migrations_online()
