"""Rendered fragments of pages that are the same for every visitor of a tenant, kept per process.

The home page's sections and a procedure's page body depend only on the tenant (its catalogue,
its theme and settings) and the language: rendering them again for each request was most of the
CPU those pages cost. A template wraps such a part in ``{% cache tenant.slug, "name", … %}``;
the rest of the page (the header with the signed-in person, the CSRF token, the service
navigation's current section) still renders per request.

The first key part must be the tenant's slug: a catalogue change drops that tenant's fragments
(``catalog_changed``), a tenant change (theme, settings, status) drops all of them
(``invalidate``), in every process (``tenancy.events``); the TTL is the fallback when such a
message is lost, like the catalogue cache's. Nothing per person may go inside a cached part.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.parser import Parser

# Bounded: keys come from templates (tenants × languages × themes × procedures), not from
# visitors, but procedures are many; a full cache starts again rather than growing.
MAX_FRAGMENTS = 20_000


class FragmentCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        # slug → key → (expiry, html)
        self._by_tenant: dict[str, dict[tuple[Any, ...], tuple[float, str]]] = {}
        self._size = 0

    def get(self, slug: str, key: tuple[Any, ...]) -> str | None:
        entry = self._by_tenant.get(slug, {}).get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, slug: str, key: tuple[Any, ...], html: str) -> None:
        if self._size >= MAX_FRAGMENTS:
            self.invalidate()
        entries = self._by_tenant.setdefault(slug, {})
        self._size += key not in entries
        entries[key] = (time.monotonic() + self.ttl, html)

    def invalidate(self) -> None:
        self._by_tenant.clear()
        self._size = 0

    def catalog_changed(self, slug: str) -> None:
        self._size -= len(self._by_tenant.pop(slug, {}))


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
