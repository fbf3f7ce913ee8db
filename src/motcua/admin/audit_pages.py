"""The platform audit viewer, with filters."""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler

CONSOLE_HANDLERS: list[HTTPRouteHandler] = []
MANAGE_HANDLERS: list[HTTPRouteHandler] = []
