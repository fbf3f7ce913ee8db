"""Cache invalidation across processes: a tenant change made anywhere (a web process, the CLI, a
job) clears the tenant caches of every web and worker process within a second; the caches' TTL
is only the fallback for a message that could not be sent.

Callers use ``tenancy.events`` (``tenants_changed()``, ``catalog_changed(slug)``), which clears
this process's caches at once and publishes a ``Change`` on one Redis channel; every process
runs a ``Listener`` that applies the changes other processes publish.

Why Redis pub/sub rather than PostgreSQL LISTEN/NOTIFY:

* LISTEN needs a session-level connection held open for the life of the process, which a
  PgBouncer in transaction mode (``core/db.py`` is built to work behind one) cannot give.
* NOTIFY's best property, delivery only on commit, helps only a publisher inside the writing
  transaction; ours publish after the commit, from code that no longer holds a connection, and
  many of them (the CLI, onboarding, payments) hold no async database handle at all.
* Every process already reaches Redis through the job broker, which every entry point sets up
  first (``core.broker.setup_broker`` calls ``configure``): nothing new to configure or to
  pass through the callers.
* Neither queues messages for a listener that is not connected. So whatever the transport, a
  listener clears all its caches after every (re)connect: what it missed while away is then
  read afresh from the database.

Publishing never fails the action that called it: a Redis error is logged and the other
processes fall back on the TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
import time
import uuid
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import redis
import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

CHANNEL = "motcua:caches"
# A publish waits at most this long for Redis (the action it follows has already committed).
PUBLISH_TIMEOUT = 1.0
CONNECT_TIMEOUT = 2.0
# A listener pings Redis when it has heard nothing for this long, and gives the connection up
# (then reconnects, clearing its caches) after three such silences: a half-open TCP connection
# would otherwise wait for messages that never come.
PING_EVERY = 5.0
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 5.0
_MAX_MESSAGE = 1024

Scope = Literal["tenants", "catalog"]


class Invalidatable(Protocol):
    """A per-process cache of tenant data. It may also define ``catalog_changed(slug)`` to drop
    only one tenant's catalogue; one that does not is left alone by catalogue changes."""

    def invalidate(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Change:
    """``tenants``: a tenant's status, domains, settings or theme changed, every tenant cache
    drops everything. ``catalog``: one tenant's catalogue changed (``slug``)."""

    scope: Scope
    slug: str | None = None

    def encode(self, origin: str) -> str:
        return json.dumps({"origin": origin, "scope": self.scope, "slug": self.slug})

    @staticmethod
    def decode(raw: bytes | str) -> tuple[str | None, Change]:
        """(origin, change); anything unreadable becomes a change of every tenant, since
        dropping caches is always safe and keeping a stale one is not."""
        try:
            data = json.loads(raw[:_MAX_MESSAGE])
            origin, scope, slug = data["origin"], data["scope"], data.get("slug")
            if scope == "catalog" and isinstance(slug, str) and slug:
                return str(origin), Change("catalog", slug)
            if scope == "tenants":
                return str(origin), Change("tenants")
        except (ValueError, TypeError, KeyError):
            pass
        log.warning("cache invalidation: unreadable message %r; clearing every cache", raw[:100])
        return None, Change("tenants")


class Caches:
    """The tenant caches of one process. ``origin`` marks what this process publishes, so its
    listener skips its own messages (the caches were cleared when the change was published)."""

    def __init__(self) -> None:
        self.origin = uuid.uuid4().hex
        # Weak: a cache that is gone (an app of a finished test) drops out by itself.
        self._members: weakref.WeakSet[Any] = weakref.WeakSet()

    def subscribe(self, cache: Invalidatable) -> None:
        self._members.add(cache)

    def apply(self, change: Change) -> None:
        """Never raises: one broken cache must not keep the others stale or fail the caller."""
        for cache in list(self._members):
            try:
                if change.scope == "catalog":
                    drop = getattr(cache, "catalog_changed", None)
                    if drop is not None:
                        drop(change.slug)
                else:
                    cache.invalidate()
            except Exception:
                log.exception("cache invalidation: %r failed to clear", cache)

    def clear(self) -> None:
        self.apply(Change("tenants"))


# This process's caches.
PROCESS = Caches()


class Publisher:
    """Sends changes to Redis with short timeouts and no retries: a publish follows a commit,
    and a Redis outage must cost the caller at most ``PUBLISH_TIMEOUT``."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.client = redis.Redis.from_url(
            redis_url,
            socket_timeout=PUBLISH_TIMEOUT,
            socket_connect_timeout=PUBLISH_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        )

    def send(self, change: Change, origin: str) -> bool:
        try:
            self.client.publish(CHANNEL, change.encode(origin))
        except Exception as exc:
            log.warning(
                "cache invalidation: could not publish %s (%s: %s); other processes catch up "
                "when their cache entries expire",
                change,
                type(exc).__name__,
                exc,
            )
            return False
        return True

    def close(self) -> None:
        self.client.close()


_publisher: Publisher | None = None
_publisher_lock = threading.Lock()


def configure(redis_url: str | None) -> None:
    """Where this process publishes. ``core.broker.setup_broker`` calls it, so every entry point
    (web, worker, scheduler, CLI, tests) publishes to the Redis its jobs go to."""
    global _publisher
    with _publisher_lock:
        if _publisher is not None and _publisher.redis_url == redis_url:
            return
        old, _publisher = _publisher, Publisher(redis_url) if redis_url else None
    if old is not None:
        old.close()


def publish(change: Change, caches: Caches = PROCESS) -> None:
    """Clear this process's caches at once, then tell every other process. Never raises.

    Called from async code too (after an ``async with engine.begin()``): there the send goes to
    a thread, so a slow Redis never stalls the event loop."""
    caches.apply(change)
    publisher = _publisher
    if publisher is None:
        log.warning("cache invalidation: no Redis configured; other processes wait for their TTL")
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        publisher.send(change, caches.origin)
    else:
        try:
            loop.run_in_executor(None, publisher.send, change, caches.origin)
        except RuntimeError:  # the loop is shutting down: send from here instead
            publisher.send(change, caches.origin)


class Listener:
    """Applies the changes other processes publish to ``caches``, for the life of the process:
    reconnects with backoff, and clears every cache after each (re)connect, because messages
    sent while it was away are lost."""

    def __init__(self, redis_url: str, caches: Caches = PROCESS) -> None:
        self.redis_url = redis_url
        self.caches = caches
        # How many times it has (re)connected; set while it is subscribed. For tests and health.
        self.connections = 0
        self.connected = asyncio.Event()

    async def run(self) -> None:
        delay = BACKOFF_FIRST
        while True:
            before = self.connections
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "cache invalidation: listener disconnected (%s: %s); reconnecting",
                    type(exc).__name__,
                    exc,
                )
            finally:
                self.connected.clear()
            if self.connections != before:
                delay = BACKOFF_FIRST  # it was up: the next try is quick
            # Jitter, so the processes cut off by one Redis restart do not all come back at once.
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 (jitter, no secret)
            delay = min(delay * 2, BACKOFF_MAX)

    async def _listen(self) -> None:
        client = aioredis.Redis.from_url(
            self.redis_url,
            socket_connect_timeout=CONNECT_TIMEOUT,
            # No silent reconnect inside redis-py: a reconnect must clear the caches.
            retry=Retry(NoBackoff(), 0),
            client_name="motcua-caches",
        )
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(CHANNEL)
            confirmed = await pubsub.get_message(timeout=CONNECT_TIMEOUT)
            if confirmed is None or confirmed["type"] != "subscribe":
                raise ConnectionError("Redis did not confirm the subscription")
            # Subscribed first, cleared second: a change committed after this point reaches us
            # as a message, one committed before is read from the database by the next lookup.
            self.caches.clear()
            self.connections += 1
            self.connected.set()
            if self.connections > 1:
                log.info("cache invalidation: listener reconnected; caches cleared")
            heard = time.monotonic()
            while True:
                message = await pubsub.get_message(timeout=PING_EVERY)
                if message is None:
                    if time.monotonic() - heard > 3 * PING_EVERY:
                        raise ConnectionError("Redis stopped answering")
                    await pubsub.ping()
                    continue
                heard = time.monotonic()
                if message["type"] == "message":
                    origin, change = Change.decode(message["data"])
                    if origin != self.caches.origin:
                        self.caches.apply(change)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            with contextlib.suppress(Exception):
                await client.aclose()


@contextlib.asynccontextmanager
async def listening(redis_url: str, caches: Caches = PROCESS) -> AsyncIterator[Listener]:
    """A listener running in the current event loop while the block runs (the web lifespan)."""
    listener = Listener(redis_url, caches)
    task = asyncio.create_task(listener.run(), name="cache-invalidation")
    try:
        yield listener
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class ThreadedListener:
    """A listener on a thread of its own with its own event loop, for processes that have no
    loop of their own to lend (the Dramatiq worker). The caches it clears must tolerate being
    cleared from another thread (a dict ``clear`` does)."""

    def __init__(self, redis_url: str, caches: Caches = PROCESS) -> None:
        self.listener = Listener(redis_url, caches)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="cache-invalidation", daemon=True)

    def start(self) -> ThreadedListener:
        self._thread.start()
        self._ready.wait(5)
        return self

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._task = loop.create_task(self.listener.run())
        self._ready.set()
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(self._task)
        loop.close()

    def stop(self, timeout: float = 5.0) -> None:
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(task.cancel)
        self._thread.join(timeout)
