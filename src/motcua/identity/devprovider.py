"""Development e-ID provider (placeholder; being written)."""

from __future__ import annotations

from litestar import Router

router = Router(path="/dev-eid", route_handlers=[])
