"""Host header → tenant, before any handler runs.

Fails closed: a host that maps to no active tenant gets a "no such portal" page and never
another tenant's content. ``admin.<platform domain>`` is the central console and the bare
platform domain a small landing page; their paths are moved under ``/console`` and ``/platform``
so those routes are unreachable from tenant hosts (and tenant routes from theirs).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send
from sqlalchemy import text

from motcua.core.db import Database
from motcua.core.invalidation import PROCESS, Caches
from motcua.core.tenant import Tenant
from motcua.core.theming import LANGUAGE_COOKIE, LANGUAGES, Themes
from motcua.tenancy import events
from motcua.tenancy.models import TenantStatus

log = logging.getLogger(__name__)

SiteKind = Literal["tenant", "console", "platform", "dev-eid"]

# Served on every host, before resolution: health probes and static files.
HOST_INDEPENDENT_PREFIXES = ("/healthz", "/readyz", "/static/", "/webhooks/")
INTERNAL_PREFIXES = ("/console", "/platform", "/dev-eid")

_TENANT_COLUMNS = ", ".join("t." + c.strip() for c in Tenant.COLUMNS.split(","))
_BY_SLUG = text(f"SELECT {_TENANT_COLUMNS} FROM platform.tenants t WHERE t.slug = :key")
_BY_HOST = text(
    f"SELECT {_TENANT_COLUMNS} FROM platform.domains d JOIN platform.tenants t ON t.id = d.tenant_id "
    "WHERE d.host = :key"
)


def normalise_host(raw: str) -> str:
    """'HaNoi.LocalHost:8000' → 'hanoi.localhost'; an IPv6 literal keeps its brackets."""
    host = raw.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end != -1 else host
    return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


def normalise_path(path: str) -> str:
    """The path the router will match, decided once: repeated slashes collapsed and dot
    segments resolved ("//console", "/%2Fconsole" once decoded, "/a/../console" → "/console").
    The middleware decides on this path and hands the router the same one, so no spelling of a
    path can pass the prefix checks below and still reach a console or platform handler."""
    if "//" not in path and "/." not in path:
        return path  # already normal: the common case, kept cheap
    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    normal = "/" + "/".join(segments)
    return normal + "/" if path.endswith("/") and normal != "/" else normal


@dataclass(frozen=True, slots=True)
class Resolution:
    site: SiteKind | None
    tenant: Tenant | None = None


class TenantResolver:
    """Looks hosts up with a small TTL cache (negative answers cached too, bounded in size so
    random Host headers cannot grow it without limit). Any tenant change, in this process or
    another, clears it (``tenancy.events``); the TTL is the fallback."""

    MAX_ENTRIES = 10_000

    def __init__(
        self,
        db: Database,
        platform_domain: str,
        ttl: float,
        *,
        dev_eid: bool = False,
        caches: Caches = PROCESS,
    ) -> None:
        self.db = db
        self.platform_domain = platform_domain
        self.console_host = f"admin.{platform_domain}"
        # The development e-ID provider answers on eid.<domain>, and only when enabled.
        self.dev_eid_host = f"eid.{platform_domain}" if dev_eid else None
        self.ttl = ttl
        self._cache: OrderedDict[str, tuple[float, Tenant | None]] = OrderedDict()
        events.subscribe(self, caches)

    def invalidate(self) -> None:
        # A new dict rather than clear(): a lookup that read the database before the change
        # stores its answer in the old dict (see _lookup), never in the fresh one; and a
        # clear from another thread cannot pull an entry from under the lookup's two steps.
        self._cache = OrderedDict()

    async def resolve(self, host: str) -> Resolution:
        if host == self.console_host:
            return Resolution("console")
        if host == self.platform_domain:
            return Resolution("platform")
        if host == self.dev_eid_host:
            return Resolution("dev-eid")
        tenant = await self._lookup(host)
        return Resolution("tenant", tenant) if tenant is not None else Resolution(None)

    async def _lookup(self, host: str) -> Tenant | None:
        now = time.monotonic()
        hit = self._cache.get(host)
        if hit is not None and hit[0] > now:
            return hit[1]
        suffix = "." + self.platform_domain
        if host.endswith(suffix) and "." not in host[: -len(suffix)]:
            query, key = _BY_SLUG, host[: -len(suffix)]
        else:
            query, key = _BY_HOST, host
        cache = self._cache  # the generation this answer belongs to
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(query, {"key": key})).one_or_none()
        tenant = None if row is None else Tenant.from_row(row)
        cache[host] = (now + self.ttl, tenant)
        cache.move_to_end(host)
        while len(cache) > self.MAX_ENTRIES:
            cache.popitem(last=False)
        return tenant


def _host_of(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"host":
            return normalise_host(value.decode("latin-1"))
    return ""


async def _send_html(
    send: Send, status: int, body: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = body.encode()
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(payload)).encode()),
        (b"cache-control", b"no-store"),
        *(extra or []),
    ]
    start: HTTPResponseStartEvent = {"type": "http.response.start", "status": status, "headers": headers}
    body_event: HTTPResponseBodyEvent = {"type": "http.response.body", "body": payload, "more_body": False}
    await send(start)
    await send(body_event)


# An archived portal is read-only: a request that could change something is refused, except
# signing in and out (staff still read their queues) and the language switch.
_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ALLOWED_WHEN_ARCHIVED = ("/login", "/logout", "/auth/callback", "/lang/")
# Vietnamese msgids, translated by the page that shows them (web/forbidden.html).
ARCHIVED_TITLE = "Cổng dịch vụ công đã được lưu trữ"
ARCHIVED_MESSAGE = (
    "Cổng này chỉ còn để tra cứu: không nhận hồ sơ mới và không thay đổi được dữ liệu. "
    "Hồ sơ đã nộp vẫn được lưu giữ; cán bộ vẫn đăng nhập để xem và tải hồ sơ."
)


def _changes_archived_portal(method: str, path: str) -> bool:
    if method not in _CHANGING_METHODS:
        return False
    return not any(path == p.rstrip("/") or path.startswith(p) for p in _ALLOWED_WHEN_ARCHIVED)


def _language_of(scope: Scope) -> str:
    """The UI language cookie, read here because this page is sent before the app runs."""
    for name, value in scope.get("headers", ()):
        if name != b"cookie":
            continue
        for part in value.decode("latin-1").split(";"):
            key, _, chosen = part.strip().partition("=")
            if key == LANGUAGE_COOKIE and chosen in LANGUAGES:
                return chosen
    return "vi"


def tenant_middleware(resolver: TenantResolver, themes: Themes) -> type:
    """An ASGI middleware class bound to the app's resolver and themes."""

    class TenantMiddleware:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] not in ("http", "websocket"):
                await self.app(scope, receive, send)
                return
            path = normalise_path(scope["path"])
            if path != scope["path"]:
                scope["path"] = path
                scope["raw_path"] = quote(path).encode()
            if path.startswith(HOST_INDEPENDENT_PREFIXES):
                await self.app(scope, receive, send)
                return
            host = _host_of(scope)
            try:
                resolution = await resolver.resolve(host)
            except Exception:
                log.exception("tenant lookup for %r failed", host)
                await _send_html(send, 503, themes.render("web/error.html"), [(b"retry-after", b"30")])
                return
            state = scope.setdefault("state", {})
            if resolution.site == "tenant" and resolution.tenant is not None:
                tenant = resolution.tenant
                if tenant.status == TenantStatus.SUSPENDED:
                    html = themes.render("web/unavailable.html", tenant=tenant)
                    await _send_html(send, 503, html, [(b"retry-after", b"3600")])
                    return
                archived = tenant.status == TenantStatus.ARCHIVED
                served = archived or tenant.status == TenantStatus.ACTIVE
                if not served or path.startswith(INTERNAL_PREFIXES):
                    await _send_html(send, 404, themes.render("web/no_portal.html", host=host))
                    return
                if archived and _changes_archived_portal(str(scope.get("method", "GET")), path):
                    html = themes.render(
                        "web/forbidden.html",
                        tenant=tenant,
                        lang=_language_of(scope),
                        title=ARCHIVED_TITLE,
                        message=ARCHIVED_MESSAGE,
                    )
                    await _send_html(send, 409, html)
                    return
                state["tenant"] = tenant
                state["site"] = "tenant"
            elif resolution.site in ("console", "platform", "dev-eid"):
                state["site"] = resolution.site
                prefix = "/" + resolution.site
                scope["path"] = prefix + path if path != "/" else prefix
                scope["raw_path"] = scope["path"].encode()
            else:
                await _send_html(send, 404, themes.render("web/no_portal.html", host=host))
                return
            await self.app(scope, receive, send)

    return TenantMiddleware
