"""Figures computed from the rollups, kept per process while the rollups have not moved.

The statistics page and API are public and read far more often than the rollups change (every
two minutes at most, or when a period or a ranking is published): computing them again for each
visitor would cost tens of milliseconds of Python per request. What they computed is kept under
a *freshness marker* read in one small query — when the rollups were last refreshed, and the
latest publication of the tenant and of the platform — so a refresh or a publication is seen by
the next request in every process, with no invalidation message to lose. Bounded in size and
time (the marker also changes with the clock's month, through the period in the key).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_MARKER = text(
    """
    SELECT (SELECT refreshed_at FROM reporting_state WHERE id = 1),
           (SELECT max(published_at) FROM reporting_published),
           (SELECT max(published_at) FROM platform.published_rankings)
    """
)


async def freshness(session: AsyncSession) -> tuple[Any, ...]:
    """What changes whenever the figures may have changed (one round trip)."""
    return tuple((await session.execute(_MARKER)).one())


class FiguresCache:
    def __init__(self, *, ttl: float = 300.0, size: int = 4096) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[Hashable, tuple[float, tuple[Any, ...], Any]] = OrderedDict()

    def get(self, key: Hashable, marker: tuple[Any, ...]) -> Any | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored_at, stored_marker, value = entry
        if stored_marker != marker or time.monotonic() - stored_at > self.ttl:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: Hashable, marker: tuple[Any, ...], value: Any) -> None:
        self._entries[key] = (time.monotonic(), marker, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


# One per process, shared by the page and the API (keys say which).
FIGURES = FiguresCache()
