"""The officer queue's counts are read by one request per key at a time (backoffice.services
.QueueSummaryCache): concurrent views of an expired or missing entry never count the dossiers
all at once, a failed reading is taken up by the next view, and this process's own actions are
never hidden by a reading that began before them."""

from __future__ import annotations

import asyncio
import time

import pytest

from motcua.backoffice.services import QueueSummaryCache

KEY = ("t_hanoi", "r1||", None)


class Counts:
    """A reading of the counts that takes a while, and says how many ran."""

    def __init__(self) -> None:
        self.readings = 0
        self.release = asyncio.Event()

    async def read(self) -> dict[str, int]:
        self.readings += 1
        await self.release.wait()
        return {"new": self.readings}


async def test_views_of_a_missing_entry_wait_for_one_reading() -> None:
    cache, counts = QueueSummaryCache(ttl=60), Counts()
    views = [asyncio.create_task(cache.get(KEY, counts.read)) for _ in range(8)]
    await asyncio.sleep(0.01)
    assert counts.readings == 1 and not any(v.done() for v in views)
    counts.release.set()
    assert await asyncio.gather(*views) == [{"new": 1}] * 8
    assert await cache.get(KEY, counts.read) == {"new": 1}  # kept: no second reading
    assert counts.readings == 1


async def test_an_expired_entry_is_shown_while_one_view_reads_it_again() -> None:
    cache, counts = QueueSummaryCache(ttl=0.01), Counts()
    counts.release.set()
    assert await cache.get(KEY, counts.read) == {"new": 1}
    time.sleep(0.02)  # expired
    counts.release.clear()
    reader = asyncio.create_task(cache.get(KEY, counts.read))
    await asyncio.sleep(0.01)
    # The others show the expired counts at once rather than count again or wait.
    assert await asyncio.gather(*(cache.get(KEY, counts.read) for _ in range(5))) == [{"new": 1}] * 5
    assert counts.readings == 2 and not reader.done()
    counts.release.set()
    assert await reader == {"new": 2}
    assert await cache.get(KEY, counts.read) == {"new": 2}


async def test_a_failed_reading_is_taken_up_by_the_next_view() -> None:
    cache = QueueSummaryCache(ttl=60)
    gate = asyncio.Event()

    async def failing() -> dict[str, int]:
        await gate.wait()
        raise ConnectionError("database away")

    async def working() -> dict[str, int]:
        return {"new": 7}

    first = asyncio.create_task(cache.get(KEY, failing))
    await asyncio.sleep(0.01)
    waiting = asyncio.create_task(cache.get(KEY, working))
    await asyncio.sleep(0.01)
    assert not waiting.done()  # nothing to show yet: it waits for the reading in flight
    gate.set()
    with pytest.raises(ConnectionError):
        await first
    assert await waiting == {"new": 7}  # read again by the view that waited


async def test_an_action_of_this_process_is_never_hidden_by_an_earlier_reading() -> None:
    cache, counts = QueueSummaryCache(ttl=60), Counts()
    before = asyncio.create_task(cache.get(KEY, counts.read))
    await asyncio.sleep(0.01)
    cache.invalidate("t_hanoi")  # an officer acted while the counts were being read
    counts.release.set()
    assert await before == {"new": 1}  # that view shows what it read...
    assert await cache.get(KEY, counts.read) == {"new": 2}  # ...but it is not kept
    cache.invalidate("t_hue")
    assert await cache.get(KEY, counts.read) == {"new": 2}  # another tenant's action: kept
