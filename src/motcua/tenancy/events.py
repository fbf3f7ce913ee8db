"""Tell every process that tenants or a catalogue changed, so caches drop stale entries.

The one API for callers, from sync or async code, after the commit: it clears this process's
caches at once and publishes the change to every other web and worker process
(``core.invalidation``: Redis pub/sub, applied within a second; the caches' TTL is only the
fallback when Redis cannot be reached). It never raises.
"""

from __future__ import annotations

from motcua.core.invalidation import PROCESS, Caches, Change, Invalidatable, publish

__all__ = ["Invalidatable", "catalog_changed", "subscribe", "tenants_changed"]


def subscribe(cache: Invalidatable, caches: Caches = PROCESS) -> None:
    """``cache.invalidate()`` runs on every tenant change, and ``cache.catalog_changed(slug)``
    (if it has one) on a catalogue change, whichever process made it."""
    caches.subscribe(cache)


def tenants_changed() -> None:
    """A tenant's status, domains, settings or theme changed: every cache drops everything."""
    publish(Change("tenants"))


def catalog_changed(slug: str) -> None:
    """One tenant's catalogue changed (call it after the commit). The tenant caches stay."""
    publish(Change("catalog", slug))
