"""Identity jobs: make every session of a site read its roles again after a change."""

from __future__ import annotations

from typing import Any

import dramatiq
import redis.asyncio as aioredis

from motcua.core.events import RolesChanged, Subscriber, subscribe
from motcua.core.settings import load_settings
from motcua.identity.sessions import roles_version_key

REFRESH_ROLES = Subscriber("refresh_roles", "sessions")


@dramatiq.actor(
    actor_name=REFRESH_ROLES.actor_name,
    queue_name=REFRESH_ROLES.queue_name,
    max_retries=20,
    min_backoff=500,
    max_backoff=60_000,
)
async def refresh_roles(event: dict[str, Any], tenant: str | None = None) -> None:
    """The durable half of a roles change: the web process bumps the site's roles version right
    after its commit; this job, relayed from the outbox, bumps it again in case that could not
    happen (Redis down, a command-line change). A second bump only costs one more re-read."""
    site = RolesChanged.from_payload(event).site
    client = aioredis.Redis.from_url(load_settings().redis_url or "")
    try:
        await client.incr(roles_version_key(site))
    finally:
        await client.aclose()


subscribe(RolesChanged, REFRESH_ROLES)
