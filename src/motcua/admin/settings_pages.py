"""Tenant settings: from the console (platform administrators) and from /manage/settings
(the tenant's own administrators)."""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler

CONSOLE_HANDLERS: list[HTTPRouteHandler] = []
MANAGE_HANDLERS: list[HTTPRouteHandler] = []
