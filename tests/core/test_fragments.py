"""The per-process cache of rendered fragments (core.fragments): bounded, least recently used
out first, one tenant's parts dropped without touching the others'."""

from __future__ import annotations

import time

from motcua.core.fragments import FragmentCache


def test_the_least_recently_used_part_goes_first_and_the_bound_holds() -> None:
    cache = FragmentCache(ttl=60, size=3)
    cache.put("hanoi", ("home",), "<home>")
    for row in range(1, 3):
        cache.put("hanoi", ("row", row), f"<row {row}>")
    assert cache.get("hanoi", ("home",)) == "<home>"  # read again: now the most recent
    cache.put("hanoi", ("row", 3), "<row 3>")  # over the bound: the oldest use goes
    assert len(cache) == 3
    assert cache.get("hanoi", ("row", 1)) is None
    assert cache.get("hanoi", ("home",)) == "<home>"
    assert cache.get("hanoi", ("row", 2)) == "<row 2>"
    assert cache.get("hanoi", ("row", 3)) == "<row 3>"
    # A stream of rows seen once never pushes out what every request reads.
    for row in range(4, 20):
        assert cache.get("hanoi", ("home",)) == "<home>"
        cache.put("hanoi", ("row", row), f"<row {row}>")
    assert len(cache) == 3


def test_a_catalogue_change_drops_that_tenants_parts_only() -> None:
    cache = FragmentCache(ttl=60, size=10)
    cache.put("hanoi", ("home",), "<hanoi>")
    cache.put("hue", ("home",), "<hue>")
    cache.catalog_changed("hanoi")
    assert cache.get("hanoi", ("home",)) is None
    assert cache.get("hue", ("home",)) == "<hue>"
    assert len(cache) == 1
    # An evicted part's tenant index forgets it too: dropping the tenant later finds nothing stale.
    small = FragmentCache(ttl=60, size=1)
    small.put("hanoi", ("a",), "a")
    small.put("hue", ("b",), "b")
    small.catalog_changed("hanoi")
    assert small.get("hue", ("b",)) == "b"
    cache.invalidate()
    assert len(cache) == 0 and cache.get("hue", ("home",)) is None


def test_an_expired_part_is_rendered_again() -> None:
    cache = FragmentCache(ttl=0.01)
    cache.put("hanoi", ("home",), "<old>")
    time.sleep(0.02)
    assert cache.get("hanoi", ("home",)) is None
    cache.put("hanoi", ("home",), "<new>")
    assert cache.get("hanoi", ("home",)) == "<new>"
