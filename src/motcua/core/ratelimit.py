"""Per-client request budgets, shared by every web process through Redis.

Each budget counts the requests of one client address on one site in one-minute windows; past
its size a request is refused with 429 and ``Retry-After`` (the rest of the minute). Budgets
are named by what they protect, so the page and the API form of one lookup share a budget:
switching from one to the other buys no extra guesses. The client address is the peer's, or
what a trusted proxy says it is (web.requests), never a header anyone can send.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler
from redis.exceptions import NoScriptError

from motcua.core.dependencies import redis_of, settings_of, site_of, tenant_of

WINDOW_SECONDS = 60
Connection = ASGIConnection[Any, Any, Any, Any]


# INCR, and EXPIRE on the window's first request: one command, atomic, so a window's key never
# outlives it even if the process dies between the two (a pipeline would send both each time).
_COUNT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""
# Redis names a script by its SHA-1: an identifier, not a protection.
_SCRIPT_SHA = hashlib.sha1(_COUNT.encode(), usedforsecurity=False).hexdigest()


async def _count(redis: Any, key: str) -> int:
    try:
        return int(await redis.evalsha(_SCRIPT_SHA, 1, key, WINDOW_SECONDS + 10))
    except NoScriptError:  # a new or restarted Redis: load it once, by sending it whole
        return int(await redis.eval(_COUNT, 1, key, WINDOW_SECONDS + 10))


async def spend(redis: Any, budget: str, size: int, who: str, *, now: float | None = None) -> int | None:
    """Count one request of ``who`` against ``budget``: None while within ``size``, else the
    seconds until the window ends. One round trip (a script: INCR, EXPIRE on the first)."""
    moment = time.time() if now is None else now
    key = f"ratelimit:{budget}:{who}:{int(moment // WINDOW_SECONDS)}"
    count = await _count(redis, key)
    if count <= size:
        return None
    return max(1, int(WINDOW_SECONDS - moment % WINDOW_SECONDS))


def client_key(connection: Connection) -> str:
    """Who is counted: the client address on this site (a tenant, the console…)."""
    tenant = tenant_of(connection)
    site = tenant.slug if tenant is not None else site_of(connection) or "-"
    address = connection.client.host if connection.client else "unknown"
    return f"{site}:{address}"


async def enforce(connection: Connection, budget: str) -> None:
    """Spend one unit of ``budget`` or refuse the request (429, ``Retry-After``)."""
    size = settings_of(connection).rate_limits[budget]
    wait = await spend(redis_of(connection), budget, size, client_key(connection))
    if wait is not None:
        raise TooManyRequestsException(detail=f"rate limit: {budget}", headers={"Retry-After": str(wait)})


def limited(budget: str) -> Any:
    """A route guard spending one unit of ``budget``."""

    async def guard(connection: Connection, _: BaseRouteHandler) -> None:
        await enforce(connection, budget)

    guard.__name__ = f"limited_{budget}"
    return guard
