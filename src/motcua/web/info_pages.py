"""The portal's information pages, linked from every page's footer and service navigation: the
privacy notice (the Personal Data Protection Law 91/2025/QH15 and Decree 356/2025/NĐ-CP), the
accessibility statement (WCAG 2.1 AA) and help (questions and the hotline). Text of the templates,
the portal's contact from its settings: no database or Redis round trip, like any anonymous page."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency
from litestar.response import Response

from motcua.core.pages import HttpRequest, page
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant


@get("/privacy", name="privacy_notice", include_in_schema=False)
async def privacy_notice(
    request: HttpRequest, tenant: NamedDependency[Tenant], settings: NamedDependency[Settings]
) -> Response[str]:
    # The notice states the real session lifetimes, in hours and minutes as configured.
    return page(
        request,
        "info/privacy.html",
        session_idle_minutes=settings.session_idle_seconds // 60,
        session_absolute_hours=settings.session_absolute_seconds // 3600,
    )


@get("/accessibility", name="accessibility_statement", include_in_schema=False)
async def accessibility_statement(request: HttpRequest, tenant: NamedDependency[Tenant]) -> Response[str]:
    return page(request, "info/accessibility.html")


@get("/help", name="help", include_in_schema=False)
async def help_page(request: HttpRequest, tenant: NamedDependency[Tenant]) -> Response[str]:
    return page(request, "info/help.html")


HANDLERS = [privacy_notice, accessibility_statement, help_page]
