"""Rendered fragments of pages that are the same for every visitor of a tenant, kept per process.

The home page's sections and a procedure's page body depend only on the tenant (its catalogue,
its theme and settings) and the language: rendering them again for each request was most of the
CPU those pages cost. A template wraps such a part in ``{% cache tenant.slug, "name", … %}``;
the rest of the page (the header with the signed-in person, the CSRF token, the service
navigation's current section) still renders per request.

The first key part must be the tenant's slug: a catalogue change drops that tenant's fragments
(``catalog_changed``), a tenant change (theme, settings, status) drops all of them
(``invalidate``), in every process (``tenancy.events``); the TTL is the fallback when such a
message is lost, like the catalogue cache's.

Nothing per person may go inside a cached part unless its key holds every value the part shows:
such a part (a row of the officer's queue, a tracking result) is then only the rendering of its
key, the same for whoever asks with the same values, never a copy of someone's data served to
another.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.parser import Parser

# Bounded, least recently used first out: the tenant-wide parts (a home page, a procedure) are
# read on nearly every request and stay, while the parts keyed by what one row shows (a queue
# row, a tracking result) come and go with the rows people look at.
MAX_FRAGMENTS = 20_000


class FragmentCache:
    def __init__(self, ttl: float, *, size: int = MAX_FRAGMENTS) -> None:
        self.ttl = ttl
        self.size = size
        # (slug, key) → (expiry, html), oldest use first; and each tenant's keys, so that a
        # catalogue change drops one tenant's parts without walking everyone's.
        self._entries: OrderedDict[tuple[str, tuple[Any, ...]], tuple[float, str]] = OrderedDict()
        self._by_tenant: dict[str, set[tuple[Any, ...]]] = {}

    def get(self, slug: str, key: tuple[Any, ...]) -> str | None:
        entry = self._entries.get((slug, key))
        if entry is None or entry[0] < time.monotonic():
            return None
        self._entries.move_to_end((slug, key))
        return entry[1]

    def put(self, slug: str, key: tuple[Any, ...], html: str) -> None:
        self._entries[(slug, key)] = (time.monotonic() + self.ttl, html)
        self._entries.move_to_end((slug, key))
        self._by_tenant.setdefault(slug, set()).add(key)
        while len(self._entries) > self.size:
            (old_slug, old_key), _ = self._entries.popitem(last=False)
            keys = self._by_tenant.get(old_slug)
            if keys is not None:
                keys.discard(old_key)

    def __len__(self) -> int:
        return len(self._entries)

    def invalidate(self) -> None:
        self._entries.clear()
        self._by_tenant.clear()

    def catalog_changed(self, slug: str) -> None:
        for key in self._by_tenant.pop(slug, ()):
            self._entries.pop((slug, key), None)


class FragmentCacheExtension(Extension):
    """``{% cache tenant.slug, "home" %}…{% endcache %}``: the body renders once per key, theme
    and language (each environment is one theme and one language, and adds both to the key)."""

    tags = {"cache"}  # noqa: RUF012 (Jinja's own attribute, a set by its API)

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        environment.extend(fragment_cache=None, fragment_scope=())

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        parts = [parser.parse_expression()]
        while parser.stream.skip_if("comma"):
            parts.append(parser.parse_expression())
        body = parser.parse_statements(("name:endcache",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_cached", [nodes.List(parts)]), [], [], body).set_lineno(
            lineno
        )

    def _cached(self, parts: list[Any], caller: Callable[[], str]) -> str:
        # caller() is the rendered body, already escaped (Markup under autoescaping): kept as is.
        cache: FragmentCache | None = self.environment.fragment_cache  # type: ignore[attr-defined]
        if cache is None or not parts or not parts[0]:
            return caller()
        slug = str(parts[0])
        key = (*self.environment.fragment_scope, *parts[1:])  # type: ignore[attr-defined]
        html = cache.get(slug, key)
        if html is None:
            html = caller()
            cache.put(slug, key, html)
        return html
