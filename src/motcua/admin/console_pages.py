"""The console home (every tenant with its live figures) and each tenant's own page with its
lifecycle actions (suspend, resume)."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.handlers import HTTPRouteHandler
from litestar.response import Response
from sqlalchemy import text

from motcua.core.db import Database
from motcua.core.pages import HttpRequest, page
from motcua.identity.models import Role
from motcua.identity.sessions import UserSession


@get("/", name="console_home", include_in_schema=False)
async def console_home(
    request: HttpRequest, db: NamedDependency[Database], user: NamedDependency[UserSession | None]
) -> Response[str]:
    if user is None:
        return page(request, "admin/console.html", tenants=None)
    if not user.has(Role.PLATFORM_ADMIN):
        raise PermissionDeniedException("platform administrators only")
    async with db.engine.connect() as conn:
        tenants = (
            await conn.execute(text("SELECT slug, name, kind, status FROM platform.tenants ORDER BY slug"))
        ).all()
    return page(request, "admin/console.html", tenants=tenants)


CONSOLE_HANDLERS: list[HTTPRouteHandler] = [console_home]
MANAGE_HANDLERS: list[HTTPRouteHandler] = []
