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
    for cache in list(_listeners):
        cache.invalidate()
