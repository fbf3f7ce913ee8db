"""Litestar dependencies: the one way code gets its request context and the app's singletons.

This is the only module that reads request state (``request.state``, ``connection.state``,
``scope["state"]``) or application state (``app.state``); tests/meta/test_request_context.py
holds that. The tenant and session middlewares write the scope state; handlers get what they
need as dependencies, by parameter name:

- per request: ``tenant`` (404 on hosts without one), ``user`` (the signed-in ``UserSession``
  or None), ``site`` (``"tenant"``, ``"console"``, ``"platform"``, ``"dev-eid"`` or None) and
  ``db_session`` (the tenant's transaction), ``raw_reads`` (its one-row driver reads);
- per app: whatever ``create_app`` registers with :func:`singleton` (``settings``, ``db``,
  ``themes``, ``redis``, ``storage``…).

Code that runs outside dependency injection (page rendering, exception handlers, guards) uses
the accessors ``tenant_of``, ``user_of``, ``site_of``, ``settings_of`` and ``themes_of``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.db import Database, RawReads
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.core.theming import Themes

Connection = ASGIConnection[Any, Any, Any, Any]

# The key of the app-wide context in ``app.state``, read only by the accessors below.
_CONTEXT = "motcua_context"


@dataclass(frozen=True, slots=True)
class AppContext:
    """What code outside dependency injection needs from the app (pages, error handlers)."""

    settings: Settings
    themes: Themes
    # The app's Redis client, for guards that run before dependency injection (rate limits).
    redis: Any = None


def bind_app_context(app: Litestar, *, settings: Settings, themes: Themes, redis: Any = None) -> None:
    """Called once by ``create_app``: makes ``settings_of``, ``themes_of`` and ``redis_of`` answer."""
    app.state[_CONTEXT] = AppContext(settings=settings, themes=themes, redis=redis)


def singleton(value: Any) -> Provide:
    """An app-wide object as a dependency: the same ``value`` for every request."""

    def provide() -> Any:
        return value

    return Provide(provide, use_cache=True, sync_to_thread=False)


# Accessors ---------------------------------------------------------------------------------------
def tenant_of(connection: Connection) -> Tenant | None:
    """The tenant the host resolved to; None on the console, platform and e-ID hosts."""
    tenant = connection.state.get("tenant")
    assert tenant is None or isinstance(tenant, Tenant)
    return tenant


def user_of(connection: Connection) -> Any:
    """The signed-in ``UserSession`` of this site, or None (typed loosely: core does not import
    ``motcua.identity``)."""
    return connection.state.get("user")


def site_of(connection: Connection) -> str | None:
    site = connection.state.get("site")
    return site if isinstance(site, str) else None


def observed(scope: Any) -> tuple[str, Any]:
    """The site of a request (tenant slug, ``console``, ``platform``; ``-`` before or without
    one) and its signed-in ``UserSession`` or None, for its log lines and metrics
    (core/observability.py), read from the raw ASGI scope after or during the request."""
    state = scope.get("state")
    if not state:
        return "-", None
    tenant = state.get("tenant")
    site = tenant.slug if tenant is not None else state.get("site") or "-"
    return site, state.get("user")


def _context(connection: Connection) -> AppContext:
    context = connection.app.state[_CONTEXT]
    assert isinstance(context, AppContext)
    return context


def settings_of(connection: Connection) -> Settings:
    return _context(connection).settings


def themes_of(connection: Connection) -> Themes:
    return _context(connection).themes


def redis_of(connection: Connection) -> Any:
    return _context(connection).redis


# Per-request providers ---------------------------------------------------------------------------
def provide_tenant(request: Request[Any, Any, Any]) -> Tenant:
    tenant = tenant_of(request)
    if tenant is None:
        # Only reachable on console/platform hosts, whose routes never ask for a tenant.
        raise NotFoundException()
    return tenant


def provide_user(request: Request[Any, Any, Any]) -> Any:
    return user_of(request)


def provide_site(request: Request[Any, Any, Any]) -> str | None:
    return site_of(request)


# A route handler's ``opt`` keys: its transaction only reads (``opt={READ_ONLY: True}``); or
# it only reads and needs no transaction at all (``Database.tenant_reads``: one round trip per
# statement, each its own snapshot), for the hottest pages.
READ_ONLY = "read_only_db"
NO_TRANSACTION = "no_transaction_db"


async def provide_db_session(
    request: Request[Any, Any, Any],
    tenant: NamedDependency[Tenant],
    db: NamedDependency[Database],
) -> AsyncGenerator[AsyncSession, None]:
    """One transaction per request with the tenant's search_path; commits after the handler,
    rolls back if it raised. Jobs a handler queued with ``core.db.after_commit`` are sent only
    once the commit succeeded, so no job ever sees data that was rolled back.

    Pages marked read-only run a READ ONLY transaction: opt-in, because some page views do write
    (a login callback, an audited API read), and PostgreSQL refuses a write in it outright.
    Pages marked NO_TRANSACTION read without one."""
    opt = request.route_handler.opt
    if opt.get(NO_TRANSACTION):
        async with db.tenant_reads(tenant) as reads:
            yield reads
        return
    async with db.tenant_session(tenant, read_only=bool(opt.get(READ_ONLY))) as session:
        yield session


def provide_raw_reads(tenant: NamedDependency[Tenant], db: NamedDependency[Database]) -> RawReads:
    """The tenant's one-row driver reads (``core.db.fetch_row``): no session, nothing to close,
    no transaction, so the route needs no NO_TRANSACTION mark for it."""
    return db.raw_reads(tenant)


def resolve_dependencies_in_order() -> None:
    """Make Litestar resolve a handler's dependencies one after the other, in its own task.

    Litestar resolves the dependencies of one level concurrently, in an anyio task group: one
    task per dependency on every request, for providers that return a singleton or read the
    request state and never wait. Those tasks cost a quarter of the CPU of a page that reads
    one row (measured on /tracking: 0.7 ms of 2.7 ms); in order, they cost nothing, and the one
    provider that waits (the database session) waited alone anyway. Same results, same
    clean-up group, same errors (the first one raised, as the task group re-raises it).
    Called once by ``create_app``; tests/web/test_dependency_order.py holds it."""
    from litestar._kwargs import kwargs_model
    from litestar._kwargs.cleanup import DependencyCleanupGroup
    from litestar._kwargs.dependencies import resolve_dependency

    async def resolve_dependencies(
        self: kwargs_model.KwargsModel, connection: Connection, kwargs: dict[str, Any]
    ) -> DependencyCleanupGroup:
        cleanup_group = DependencyCleanupGroup()
        for batch in self.dependency_batches:
            for dependency in batch:
                await resolve_dependency(dependency, connection, kwargs, cleanup_group)
        return cleanup_group

    kwargs_model.KwargsModel.resolve_dependencies = resolve_dependencies  # type: ignore[method-assign]


DEPENDENCIES = {
    "tenant": Provide(provide_tenant, sync_to_thread=False),
    "user": Provide(provide_user, sync_to_thread=False),
    "site": Provide(provide_site, sync_to_thread=False),
    "db_session": Provide(provide_db_session),
    "raw_reads": Provide(provide_raw_reads, sync_to_thread=False),
}
