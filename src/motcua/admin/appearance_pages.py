"""A portal's look and working rules: theme colours and logo, agency code, working calendar;
from the console and from /manage/settings."""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler

CONSOLE_HANDLERS: list[HTTPRouteHandler] = []
MANAGE_HANDLERS: list[HTTPRouteHandler] = []
