"""One shared engine and pool; a tenant is chosen per transaction with ``SET LOCAL search_path``.

``SET LOCAL`` lasts until COMMIT/ROLLBACK, so a pooled connection can never carry one tenant's
path into the next request, and it works behind PgBouncer in transaction mode.
``tenant_session`` is the only way to get a tenant-scoped session, for web requests and jobs.
Work that must only happen once the transaction is committed is registered through
``core.actions`` and relayed right after the COMMIT.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol, TypeVar

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
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
        )
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
    async def platform_session(self) -> AsyncIterator[AsyncSession]:
        """A transaction on the ``platform`` schema only (tenants, domains, audit)."""
        async with self.sessions() as session:
            async with session.begin():
                await session.execute(text("SET LOCAL search_path TO platform"))
                yield session
            await self._after_commit(session)

    @asynccontextmanager
    async def tenant_session(self, tenant: HasSchema) -> AsyncIterator[AsyncSession]:
        """A transaction scoped to one tenant's schema (plus ``platform`` for shared tables).

        Commits when the block ends normally, rolls back on an exception.
        """
        async with self.sessions() as session:
            async with session.begin():
                await session.execute(text(search_path_sql(tenant.schema)))
                yield session
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
