"""In-process notification that tenants or domains changed, so caches drop stale entries.

Other processes rely on the caches' short TTL.
"""

from __future__ import annotations

import weakref
from typing import Any, Protocol

_listeners: weakref.WeakSet[Any] = weakref.WeakSet()


class Invalidatable(Protocol):
    def invalidate(self) -> None: ...


def subscribe(cache: Invalidatable) -> None:
    _listeners.add(cache)


def tenants_changed() -> None:
    """A tenant's status, domains, settings or theme changed: every cache drops everything."""
    for cache in list(_listeners):
        cache.invalidate()


def catalog_changed(slug: str) -> None:
    """One tenant's catalogue changed (call it after the commit). The tenant caches stay."""
    for cache in list(_listeners):
        drop = getattr(cache, "catalog_changed", None)
        if drop is not None:
            drop(slug)
