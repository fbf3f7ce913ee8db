"""The API for systems: the token endpoint and the dossier intake and read routes
(`/oauth/token`, `/api/v1/...`)."""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler

HANDLERS: list[HTTPRouteHandler] = []
