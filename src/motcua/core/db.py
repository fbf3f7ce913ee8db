"""One shared engine and pool; a tenant is chosen per transaction with ``SET LOCAL search_path``.

``SET LOCAL`` lasts until COMMIT/ROLLBACK, so a pooled connection can never carry one tenant's
path into the next request, and it works behind PgBouncer in transaction mode.
``tenant_session`` is the only way to get a tenant-scoped session, for web requests and jobs.
Work that must only happen once the transaction is committed is registered through
``core.actions`` and relayed right after the COMMIT.

Round trips: a request's transaction is most of its time, and most of that is waiting for the
server, not working. SQLAlchemy would send BEGIN, then SET LOCAL, then the queries, then COMMIT,
each on its own. Here the connection is handed to SQLAlchemy in autocommit mode (it then sends
no BEGIN or COMMIT of its own) and the transaction is opened by one simple-protocol message,
``BEGIN [READ ONLY]; SET LOCAL search_path …``, and closed by COMMIT or ROLLBACK: one round
trip fewer per request. Pages that only read (GET) run READ ONLY, so a bug that writes from a
page view fails instead of writing. Savepoints still work (they run inside this transaction).

The hottest pages go further (``tenant_reads``): no transaction at all. Their statements name
the tenant's tables with its schema (SQLAlchemy's ``schema_translate_map``), so each is one
round trip in PostgreSQL's implicit transaction, and a statement prepared for one tenant can
never run against another's tables: its text names the schema. Each statement then sees its
own snapshot, which is why such a page reads what it shows in one statement or does not mind.
Writes are refused before they reach the server (``_refuse_writes``).

The very hottest reads skip SQLAlchemy's statement machinery too: a ``TenantQuery`` is plain
SQL with ``{schema}`` where the tenant's schema goes, sent by ``fetch_row`` on the pool's own
asyncpg connection (about half the CPU of a one-row ORM-session read), with no ORM session
built for it. Only ``Database.raw_reads`` offers it, with ``tenant_reads``' rules: one
statement, one round trip, a SELECT only, the schema in the text (asyncpg prepares each text
once per connection, per tenant).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import asyncpg
from sqlalchemy import ColumnElement, Engine, Integer, create_engine, event, literal_column
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from motcua.core import actions, outbox

log = logging.getLogger(__name__)
_SCHEMA = re.compile(r"^t_[a-z][a-z0-9_]{1,30}$")


class HasSchema(Protocol):
    @property
    def schema(self) -> str: ...


def driver_url(url: str, driver: str) -> str:
    """The same database URL with the SQLAlchemy driver we need (asyncpg for the app, psycopg
    for migrations and the CLI)."""
    parsed = make_url(url)
    return parsed.set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)


def search_path_sql(schema: str) -> str:
    # Identifiers cannot be bound parameters; the schema name is checked against a strict
    # pattern instead, so nothing a user typed can reach this statement.
    if not _SCHEMA.match(schema):
        raise ValueError(f"not a tenant schema name: {schema!r}")
    return f"SET LOCAL search_path TO {schema}, platform"


# The execution option that marks a connection of ``tenant_reads``.
_READS = "motcua_reads"


class ReadOnlyError(DBAPIError):
    """A write attempted through ``tenant_reads``: a programming error, refused client-side."""


_WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE|TRUNCATE)\b", re.IGNORECASE)


def inline_limit(rows: int) -> ColumnElement[int]:
    """A LIMIT written into the statement's text rather than bound. asyncpg prepares every
    statement; with ``LIMIT $n`` PostgreSQL's generic plan must guess the row count, costs more
    than a plan made for the actual value, and so the server plans the statement again at every
    execution (about as long as running a page's query). With the number in the text, the
    generic plan is the same plan, and after five executions it is reused."""
    return literal_column(str(int(rows)), Integer)


class TenantQuery:
    """One read statement of the hottest pages, in PostgreSQL's own SQL: ``{schema}`` where the
    tenant's schema goes (quoted, after the strict name check) and ``$1``, ``$2``… for the
    values, which are always bound, never formatted in. Refused at definition unless it is a
    plain SELECT, so ``fetch_row`` can never write."""

    __slots__ = ("sql",)

    def __init__(self, sql: str) -> None:
        if sql.lstrip()[:6].upper() != "SELECT" or _WRITES.search(sql) or ";" in sql:
            raise ValueError(f"a TenantQuery is one SELECT: {sql!r}")
        self.sql = sql

    def text_for(self, schema: str) -> str:
        if not _SCHEMA.match(schema):
            raise ValueError(f"not a tenant schema name: {schema!r}")
        return self.sql.format(schema=f'"{schema}"')


@dataclass(frozen=True, slots=True)
class RawReads:
    """One tenant's ``TenantQuery`` reads (``Database.raw_reads``): the pool and the schema,
    nothing else. A page that reads one row this way builds no ORM session for it."""

    engine: AsyncEngine
    schema: str


async def fetch_row(reads: RawReads, query: TenantQuery, *args: Any) -> Mapping[str, Any] | None:
    """The first row of ``query`` for the tenant of ``reads`` (``None`` when there is none),
    sent straight through asyncpg, outside any transaction like ``tenant_reads``."""
    async with reads.engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        return await _fetch(connection, driver, query.text_for(reads.schema), args)


async def _fetch(
    connection: AsyncConnection, driver: Any, statement: str, args: tuple[Any, ...]
) -> Mapping[str, Any] | None:
    """``fetchrow`` on the driver's connection, with ``_send``'s handling of failures."""
    try:
        row: Mapping[str, Any] | None = await driver.fetchrow(statement, *args)
        return row
    except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError) as exc:
        await connection.invalidate()
        raise OperationalError(statement, None, exc) from exc
    except asyncpg.PostgresError as exc:
        if driver.is_closed():
            await connection.invalidate()
            raise OperationalError(statement, None, exc) from exc
        raise DBAPIError(statement, None, exc) from exc


def _refuse_writes(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    """No transaction means no READ ONLY from the server: a statement of ``tenant_reads`` that
    is not a plain query is refused here, before it is sent."""
    if context is None or not context.execution_options.get(_READS):
        return
    head = statement.lstrip()[:6].upper()
    if head == "SELECT" or (head.startswith("WITH") and not _WRITES.search(statement)):
        return
    raise ReadOnlyError(statement, parameters, RuntimeError("a write in tenant_reads"))


class Database:
    """The process-wide engine and session factory."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            driver_url(url, "asyncpg"),
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=False,
            pool_recycle=1800,
            echo=echo,
            # A tenant's read statements name its schema (tenant_reads): one text per tenant,
            # so each connection keeps more of them prepared than asyncpg's default 100.
            connect_args={"prepared_statement_cache_size": 500},
        )
        event.listen(self.engine.sync_engine, "before_cursor_execute", _refuse_writes)
        # The same pool in autocommit on SQLAlchemy's side: the transactions are ours (below).
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._blocking: Engine | None = None

    @property
    def blocking(self) -> Engine:
        """A small blocking engine for the operator actions a page runs in a worker thread
        (``anyio.to_thread.run_sync``): suspending a tenant from the console calls the same
        function as the CLI, which takes a blocking engine."""
        if self._blocking is None:
            self._blocking = sync_engine(self.url, pool_size=2)
        return self._blocking

    @asynccontextmanager
    async def platform_session(self, *, read_only: bool = False) -> AsyncIterator[AsyncSession]:
        """A transaction on the ``platform`` schema only (tenants, domains, audit)."""
        async with self._transaction("SET LOCAL search_path TO platform", read_only=read_only) as session:
            yield session

    @asynccontextmanager
    async def tenant_session(
        self, tenant: HasSchema, *, read_only: bool = False
    ) -> AsyncIterator[AsyncSession]:
        """A transaction scoped to one tenant's schema (plus ``platform`` for shared tables).

        Commits when the block ends normally, rolls back on an exception.
        """
        async with self._transaction(search_path_sql(tenant.schema), read_only=read_only) as session:
            yield session

    @asynccontextmanager
    async def tenant_reads(self, tenant: HasSchema) -> AsyncIterator[AsyncSession]:
        """Reads of one tenant without a transaction: each statement one round trip, its own
        snapshot, the tenant's tables named with its schema. Writes raise ``ReadOnlyError``.

        For pages that read what they show in one statement (or a few that need not agree,
        such as a count beside a list); everything else uses ``tenant_session``."""
        if not _SCHEMA.match(tenant.schema):
            raise ValueError(f"not a tenant schema name: {tenant.schema!r}")
        # Bound to the engine, not a connection: a page that reads nothing (an empty form)
        # takes no connection from the pool, and answers while the database is away.
        reads = self._autocommit.execution_options(
            schema_translate_map={None: tenant.schema}, **{_READS: True}
        )
        session = self.sessions(bind=reads)
        try:
            yield session
            if session.new or session.dirty or session.deleted:
                raise ReadOnlyError("flush", None, RuntimeError("a write in tenant_reads"))
        finally:
            await session.close()

    def raw_reads(self, tenant: HasSchema) -> RawReads:
        """``fetch_row`` reads of one tenant: ``tenant_reads``' rules (no transaction, one
        round trip, the schema in the text) for the hottest one-row reads."""
        if not _SCHEMA.match(tenant.schema):
            raise ValueError(f"not a tenant schema name: {tenant.schema!r}")
        return RawReads(self._autocommit, tenant.schema)

    @asynccontextmanager
    async def _transaction(self, set_path: str, *, read_only: bool) -> AsyncIterator[AsyncSession]:
        # Autocommit on SQLAlchemy's side only: it sends no BEGIN/COMMIT; the transaction below
        # is ours (reset to the pool's default when the connection goes back).
        async with self._autocommit.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            await _send(connection, driver, f"BEGIN{' READ ONLY' if read_only else ''}; {set_path}")
            session = self.sessions(bind=connection)
            try:
                yield session
                await session.commit()  # flushes what is pending; the COMMIT itself is ours
                await _send(connection, driver, "COMMIT")
            except BaseException:
                await _roll_back(connection, driver)
                raise
            finally:
                await session.close()
        await self._after_commit(session)

    async def _after_commit(self, session: AsyncSession) -> None:
        callbacks, rows = actions.committed(session)
        await actions.run_callbacks(callbacks)
        if rows:
            await outbox.relay(self.engine, rows)

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._blocking is not None:
            self._blocking.dispose()


async def _send(connection: AsyncConnection, driver: Any, statement: str) -> None:
    """One of our own statements (BEGIN…, COMMIT) sent on the driver's connection. SQLAlchemy
    does not see these, so what it would do on a failure is done here: a connection that is
    gone is thrown out of the pool (never handed to the next request), and the error is raised
    as SQLAlchemy's, like every other database error the app handles (503 when unreachable)."""
    try:
        await driver.execute(statement)
    except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError) as exc:
        await connection.invalidate()
        raise OperationalError(statement, None, exc) from exc
    except asyncpg.PostgresError as exc:
        if driver.is_closed():
            await connection.invalidate()
            raise OperationalError(statement, None, exc) from exc
        raise DBAPIError(statement, None, exc) from exc


async def _roll_back(connection: AsyncConnection, driver: Any) -> None:
    """End our transaction after a failure; a connection where even that fails (the server went
    away, a cancelled request mid-message) is thrown away, never handed to the next request."""
    if driver.is_closed():
        await connection.invalidate()
        return
    try:
        if driver.is_in_transaction():
            await driver.execute("ROLLBACK")
    except BaseException:
        await connection.invalidate()
        raise


M = TypeVar("M")


async def locked(session: AsyncSession, model: type[M], ident: int) -> M | None:
    """The row, locked until the transaction ends (``FOR UPDATE``) and read fresh: whoever held
    the lock before may have changed it since the session last loaded it."""
    return await session.get(model, ident, with_for_update=True, populate_existing=True)


def sync_engine(url: str, *, pool_size: int = 5) -> Engine:
    """A blocking engine for migrations and CLI commands (psycopg)."""
    if pool_size <= 0:
        return create_engine(driver_url(url, "psycopg"), poolclass=NullPool)
    return create_engine(driver_url(url, "psycopg"), pool_size=pool_size, max_overflow=0)
