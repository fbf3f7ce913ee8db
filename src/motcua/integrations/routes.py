"""The integrations' routes on tenant hosts, gathered into one router (each family in its own
module)."""

from __future__ import annotations

from litestar import Router

from motcua.integrations import api, manage_pages, webhook_api, webhook_pages

router = Router(
    path="/",
    route_handlers=[h for family in (api, manage_pages, webhook_pages, webhook_api) for h in family.HANDLERS],
)
