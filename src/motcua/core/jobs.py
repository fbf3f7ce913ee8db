"""What actors use to reach a tenant's data: the same ``Database.tenant_session`` as requests,
opened from an explicit tenant slug."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.db import Database
from motcua.core.settings import load_settings
from motcua.core.tenant import Tenant

_database: Database | None = None


def job_database() -> Database:
    """The worker process's engine (created on first use inside the worker's event loop)."""
    global _database
    if _database is None:
        settings = load_settings()
        assert settings.database_url is not None
        _database = Database(settings.database_url, pool_size=4)
    return _database


class UnknownTenantError(LookupError):
    pass


async def load_tenant(db: Database, slug: str) -> Tenant:
    async with db.engine.connect() as conn:
        row = (
            await conn.execute(
                text(f"SELECT {Tenant.COLUMNS} FROM platform.tenants WHERE slug = :s"),
                {"s": slug},
            )
        ).one_or_none()
    if row is None:
        raise UnknownTenantError(slug)
    return Tenant.from_row(row)


@asynccontextmanager
async def tenant_job_session(slug: str) -> AsyncIterator[tuple[Tenant, AsyncSession]]:
    db = job_database()
    tenant = await load_tenant(db, slug)
    async with db.tenant_session(tenant) as session:
        yield tenant, session
