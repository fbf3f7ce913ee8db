"""Archive, export, restore and delete of a tenant from the console."""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler

CONSOLE_HANDLERS: list[HTTPRouteHandler] = []
MANAGE_HANDLERS: list[HTTPRouteHandler] = []
