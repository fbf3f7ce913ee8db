"""Webhook subscriptions and their delivery log: /manage/integrations/webhooks and the clients' own API."""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler

HANDLERS: list[HTTPRouteHandler] = []
