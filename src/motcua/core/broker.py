"""Dramatiq on Redis, with the tenant travelling as an explicit ``tenant`` argument.

The broker must be set before any actor module is imported (actors bind to the broker that is
current when they are declared), so every entry point calls ``setup_broker`` first.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO, Middleware, SkipMessage
from sqlalchemy import Engine, text

from motcua.core import invalidation, metrics
from motcua.core.audit import Actor, platform_entry
from motcua.core.db import sync_engine
from motcua.core.observability import JobContext
from motcua.core.settings import Settings

log = logging.getLogger(__name__)

# Every module declaring actors; the worker imports them all (a meta-test checks the list).
ACTOR_MODULES = (
    "motcua.tenancy.jobs",
    "motcua.notifications.jobs",
    "motcua.backoffice.jobs",
    "motcua.payments.jobs",
    "motcua.identity.jobs",
    "motcua.admin.jobs",
    "motcua.admin.onboarding",
    "motcua.admin.figures",
    "motcua.integrations.delivery",
    "motcua.reporting.jobs",
)

_SLUG = re.compile(r"^[a-z][a-z0-9-]{1,30}$")


class TenantJobs(Middleware):
    """For actors called with ``tenant=<slug>``: refuse to run for a tenant that does not exist
    or is archived (the message is dropped with a log line, not retried forever), and record in
    the platform audit log a job whose retries are exhausted so operators see it."""

    CACHE_TTL = 10.0

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._engine: Engine | None = None
        self._status: dict[str, tuple[float, str | None]] = {}

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = sync_engine(self.database_url, pool_size=2)
        return self._engine

    def invalidate(self) -> None:
        # A tenant change in any process (core.invalidation; the worker subscribes this cache).
        self._status.clear()

    def _tenant_status(self, slug: str) -> str | None:
        hit = self._status.get(slug)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        with self.engine.connect() as conn:
            status = conn.execute(
                text("SELECT status FROM platform.tenants WHERE slug = :s"), {"s": slug}
            ).scalar_one_or_none()
        self._status[slug] = (now + self.CACHE_TTL, status)
        return status

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        slug = message.kwargs.get("tenant")
        if slug is None:
            return
        if not isinstance(slug, str) or not _SLUG.match(slug):
            log.error("job %s dropped: invalid tenant argument %r", message.actor_name, slug)
            raise SkipMessage()
        status = self._tenant_status(slug)
        if status is None or status == "archived":
            log.error("job %s dropped: tenant %s is %s", message.actor_name, slug, status or "unknown")
            raise SkipMessage()

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None:
            return
        # "After" hooks run in reverse order of registration, so this one runs before the
        # Retries middleware has decided: work out ourselves whether this was the last try.
        actor = broker.get_actor(message.actor_name)
        max_retries = message.options.get("max_retries", actor.options.get("max_retries", 20))
        if message.options.get("retries", 0) < max_retries and not message.failed:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    platform_entry(
                        "job.failed",
                        actor=Actor.system("worker"),
                        tenant=message.kwargs.get("tenant"),
                        # "actor" in the detail is the job's Dramatiq actor, shown at /manage/jobs.
                        detail={
                            "actor": message.actor_name,
                            "message_id": message.message_id,
                            "error": f"{type(exception).__name__}: {exception}"[:500],
                        },
                    )
                )
        except Exception:
            log.exception("could not record the failure of job %s", message.message_id)


def setup_broker(settings: Settings) -> RedisBroker:
    assert settings.redis_url is not None and settings.database_url is not None
    broker = RedisBroker(  # type: ignore[no-untyped-call]
        url=settings.redis_url,
        namespace="motcua",
        heartbeat_timeout=settings.job_heartbeat_timeout_ms,
        maintenance_chance=settings.job_maintenance_chance,
    )
    broker.add_middleware(AsyncIO())
    # Before TenantJobs, so the line that drops a job for an unknown tenant carries its request id.
    broker.add_middleware(JobContext(metrics.setup(settings)))
    broker.add_middleware(TenantJobs(settings.database_url))
    dramatiq.set_broker(broker)
    # Cache invalidation publishes to the same Redis, from wherever a change is made.
    invalidation.configure(settings.redis_url)
    # Actors bind to the broker current when their module is imported; an actor module that
    # was imported before this call (an import chain, a test collector) is re-bound here, so
    # the order of imports can never send messages to a stale broker. Every actor module is
    # imported here too, so each process knows every event subscription (core.events) before
    # it emits one.
    import importlib
    import sys

    for name in ACTOR_MODULES:
        already = name in sys.modules
        module = importlib.import_module(name)
        if not already:
            continue
        for value in vars(module).values():
            if isinstance(value, dramatiq.Actor):
                value.broker = broker
                broker.declare_actor(value)
    return broker
