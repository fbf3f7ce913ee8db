"""The central console on ``admin.<platform domain>`` (mounted under ``/console`` by the tenant
middleware) and the tenant administrators' settings pages under ``/manage``. Each page family
lives in its own module; this one only gathers them into the two routers."""

from __future__ import annotations

from litestar import Router

from motcua.admin import (
    admins_pages,
    appearance_pages,
    archive_pages,
    audit_pages,
    console_pages,
    onboarding_pages,
    ranking_pages,
    settings_pages,
)

_FAMILIES = (
    console_pages,
    onboarding_pages,
    archive_pages,
    audit_pages,
    admins_pages,
    settings_pages,
    appearance_pages,
    ranking_pages,
)

router = Router(path="/console", route_handlers=[h for family in _FAMILIES for h in family.CONSOLE_HANDLERS])
manage_router = Router(path="/", route_handlers=[h for family in _FAMILIES for h in family.MANAGE_HANDLERS])
