"""/manage/integrations: API clients registered, rotated and revoked by tenant administrators."""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler

HANDLERS: list[HTTPRouteHandler] = []
