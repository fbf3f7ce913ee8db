"""The tenant transaction (core.db): one tenant per transaction on shared pooled connections whose
prepared statements are reused, read-only where asked, nothing kept after a failure."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, Text, func, select, text, update
from sqlalchemy.exc import DBAPIError

from motcua.core.db import Database, ReadOnlyError, TenantQuery, fetch_row
from motcua.core.settings import Settings

SCHEMAS = [f"t_prepared{i}" for i in range(8)]


@dataclass(frozen=True)
class Schema:
    schema: str


@pytest.fixture(scope="module")
def marked_schemas(engine: Engine) -> list[Schema]:
    """Eight schemas with the same table and one marker row each, told apart only by the
    search path: the shape of tenants sharing one statement text."""
    with engine.begin() as connection:
        for name in SCHEMAS:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {name}"))
            connection.execute(text(f"CREATE TABLE {name}.markers (id int PRIMARY KEY, marker text)"))
            connection.execute(text(f"INSERT INTO {name}.markers VALUES (1, :m)"), {"m": name})
    return [Schema(name) for name in SCHEMAS]


@pytest.fixture
async def small_pool(live_settings: Settings) -> AsyncIterator[Database]:
    # Two connections at most for many concurrent transactions: every connection serves every
    # schema, with the statements it prepared under another schema's path.
    db = Database(live_settings.database_url or "", pool_size=1)
    yield db
    await db.dispose()


async def test_reused_prepared_statements_never_read_another_tenants_schema(
    marked_schemas: list[Schema], small_pool: Database
) -> None:
    query = text("SELECT marker FROM markers WHERE id = :id")
    order = [random.Random(7).choice(marked_schemas) for _ in range(400)]

    async def read(tenant: Schema) -> tuple[str, str, str]:
        async with small_pool.tenant_session(tenant, read_only=True) as session:
            marker = (await session.execute(query, {"id": 1})).scalar_one()
            path = (await session.execute(text("SELECT current_setting('search_path')"))).scalar_one()
            await asyncio.sleep(0)  # let other transactions interleave on the loop
        return tenant.schema, marker, path

    seen = await asyncio.gather(*(read(t) for t in order))
    assert all(marker == schema for schema, marker, _ in seen)
    assert all(path.startswith(schema) for schema, _, path in seen)
    # The statement really was prepared once per connection and kept across tenants (not
    # prepared again per request): it is in the connection's statement cache, once.
    async with small_pool.engine.connect() as connection:
        adapted = (await connection.get_raw_connection()).dbapi_connection
        cache = adapted._prepared_statement_cache  # type: ignore[union-attr]
        assert len([sql for sql in cache if "FROM markers" in sql]) == 1


async def read_only_write(db: Database, tenant: Schema) -> None:
    async with db.tenant_session(tenant, read_only=True) as session:
        await session.execute(text("UPDATE markers SET marker = 'changed'"))


async def write_then(db: Database, tenant: Schema, *statements: str, fail: bool = False) -> None:
    async with db.tenant_session(tenant) as session:
        for statement in statements:
            await session.execute(text(statement))
        if fail:
            raise RuntimeError("the handler failed after writing")


async def test_a_read_only_transaction_refuses_writes_and_a_failed_one_leaves_nothing(
    marked_schemas: list[Schema], small_pool: Database
) -> None:
    tenant = marked_schemas[0]
    with pytest.raises(DBAPIError, match="read-only transaction"):
        await read_only_write(small_pool, tenant)
    with pytest.raises(RuntimeError):
        await write_then(small_pool, tenant, "INSERT INTO markers VALUES (2, 'half-written')", fail=True)
    with pytest.raises(DBAPIError):
        await write_then(
            small_pool,
            tenant,
            "INSERT INTO markers VALUES (3, 'before the error')",
            "INSERT INTO markers VALUES (1, 'duplicate key')",
        )
    async with small_pool.tenant_session(tenant) as session:
        await session.execute(text("INSERT INTO markers VALUES (4, 'committed')"))
    # Every pooled connection is back outside any transaction and without a tenant's path.
    for _ in range(3):
        async with small_pool.engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None and not driver.is_in_transaction()
            assert "t_prepared" not in await driver.fetchval("SELECT current_setting('search_path')")
    async with small_pool.tenant_session(tenant, read_only=True) as session:
        rows = (await session.execute(text("SELECT id, marker FROM markers ORDER BY id"))).all()
    assert [tuple(r) for r in rows] == [(1, tenant.schema), (4, "committed")]


markers = Table("markers", MetaData(), Column("id", Integer, primary_key=True), Column("marker", Text))


async def test_reads_without_a_transaction_name_the_tenants_schema_and_refuse_writes(
    marked_schemas: list[Schema], small_pool: Database
) -> None:
    """``tenant_reads``: one statement per round trip, no search path, each tenant's statement
    text names its schema, so interleaved reads over a small pool never cross tenants."""
    query = select(markers.c.marker).where(markers.c.id == 1)
    order = [random.Random(11).choice(marked_schemas) for _ in range(400)]

    async def read(tenant: Schema) -> tuple[str, str, bool]:
        async with small_pool.tenant_reads(tenant) as session:
            marker = (await session.execute(query)).scalar_one()
            await asyncio.sleep(0)
            connection = await session.connection()
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            in_transaction = driver.is_in_transaction()
            path = (await session.execute(select(func.current_setting("search_path")))).scalar_one()
        return tenant.schema, marker + "|" + path, in_transaction

    seen = await asyncio.gather(*(read(t) for t in order))
    for schema, marker_and_path, in_transaction in seen:
        marker, path = marker_and_path.split("|")
        assert marker == schema and "t_prepared" not in path and not in_transaction
    # Each tenant's statement is its own prepared statement, named by its schema.
    async with small_pool.engine.connect() as connection:
        adapted = (await connection.get_raw_connection()).dbapi_connection
        cache = adapted._prepared_statement_cache  # type: ignore[union-attr]
        texts = [sql for sql in cache if "markers" in sql and "t_prepared" in sql]
        assert texts and all(len({s for s in SCHEMAS if f"{s}.markers" in sql}) == 1 for sql in texts)

    tenant = marked_schemas[1]
    with pytest.raises(ReadOnlyError):
        async with small_pool.tenant_reads(tenant) as session:
            await session.execute(update(markers).values(marker="changed"))
    with pytest.raises(ReadOnlyError):
        async with small_pool.tenant_reads(tenant) as session:
            await session.execute(text("DELETE FROM t_prepared1.markers"))
    async with small_pool.tenant_reads(tenant) as session:
        assert (await session.execute(select(func.count()).select_from(markers))).scalar_one() == 1
    with pytest.raises(ValueError, match="schema"):
        async with small_pool.tenant_reads(Schema("public")):
            pass


MARKER = TenantQuery("SELECT marker FROM {schema}.markers WHERE id = $1")


async def test_driver_reads_name_the_tenants_schema_and_cannot_write(
    marked_schemas: list[Schema], small_pool: Database
) -> None:
    """``fetch_row``: the hottest reads sent straight through asyncpg on the shared pool. Each
    tenant's text names its schema, so 400 interleaved reads over two connections (their
    prepared statements reused) never cross tenants; a write cannot even be written down."""
    order = [random.Random(12).choice(marked_schemas) for _ in range(400)]

    async def read(tenant: Schema) -> tuple[str, str | None]:
        reads = small_pool.raw_reads(tenant)
        row = await fetch_row(reads, MARKER, 1)
        await asyncio.sleep(0)
        missing = await fetch_row(reads, MARKER, 2)
        assert missing is None
        return tenant.schema, row["marker"] if row else None

    for schema, marker in await asyncio.gather(*(read(t) for t in order)):
        assert marker == schema

    for hostile in (
        "DELETE FROM {schema}.markers",
        "SELECT 1; DELETE FROM {schema}.markers",
        "WITH gone AS (DELETE FROM {schema}.markers RETURNING 1) SELECT 1",
        "SELECT 1 FROM {schema}.markers WHERE id = 1 FOR UPDATE; UPDATE {schema}.markers SET id = 2",
    ):
        with pytest.raises(ValueError, match="one SELECT"):
            TenantQuery(hostile)
    with pytest.raises(ValueError, match="schema"):
        MARKER.text_for('t_x"; DROP SCHEMA platform; --')
    # Only a tenant's schema can be read this way: the name is checked before any text is made.
    with pytest.raises(ValueError, match="schema"):
        small_pool.raw_reads(Schema("platform"))
    row = await fetch_row(small_pool.raw_reads(marked_schemas[3]), MARKER, 1)
    assert row is not None and dict(row) == {"marker": "t_prepared3"}
