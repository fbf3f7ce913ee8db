"""Litestar dependencies: the one way a handler gets its tenant and its tenant-scoped session."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.db import Database
from motcua.core.tenant import Tenant
from motcua.core.theming import Themes


def provide_tenant(request: Request) -> Tenant:  # type: ignore[type-arg]
    tenant = request.state.get("tenant")
    if tenant is None:
        # Only reachable on console/platform hosts, whose routes never ask for a tenant.
        raise NotFoundException()
    assert isinstance(tenant, Tenant)
    return tenant


def provide_db(request: Request) -> Database:  # type: ignore[type-arg]
    db: Database = request.app.state.db
    return db


def provide_themes(request: Request) -> Themes:  # type: ignore[type-arg]
    themes: Themes = request.app.state.themes
    return themes


async def provide_db_session(
    tenant: NamedDependency[Tenant],
    db: NamedDependency[Database],
) -> AsyncGenerator[AsyncSession, None]:
    """One transaction per request with the tenant's search_path; commits after the handler,
    rolls back if it raised. Jobs a handler queued with ``core.db.after_commit`` are sent only
    once the commit succeeded, so no job ever sees data that was rolled back."""
    async with db.tenant_session(tenant) as session:
        yield session


DEPENDENCIES = {
    "tenant": Provide(provide_tenant, sync_to_thread=False),
    "db": Provide(provide_db, sync_to_thread=False),
    "themes": Provide(provide_themes, sync_to_thread=False),
    "db_session": Provide(provide_db_session),
}
