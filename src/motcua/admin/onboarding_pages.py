"""Onboarding a locality from the console: the form, the job's live progress, retry."""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler

CONSOLE_HANDLERS: list[HTTPRouteHandler] = []
MANAGE_HANDLERS: list[HTTPRouteHandler] = []
