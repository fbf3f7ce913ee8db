"""Loads the signed-in user, if any, into ``request.state.user`` for the current site, and binds
CSRF tokens to that site."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import replace
from http.cookies import SimpleCookie

from litestar.config.csrf import CSRFConfig
from litestar.enums import ScopeType
from litestar.middleware.csrf import CSRF_SECRET_LENGTH, CSRFMiddleware, generate_csrf_hash
from litestar.types import ASGIApp, Receive, Scope, Send

from motcua.core.tenant import Tenant
from motcua.identity.sessions import SESSION_COOKIE, SessionStore


def _cookie(scope: Scope, name: str) -> str | None:
    for header, value in scope.get("headers", ()):
        if header == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed Cookie header is just no session
                return None
            morsel = jar.get(name)
            if morsel is not None:
                return morsel.value
    return None


# Reads the roles a person holds now: (tenant or None for the console, personal ID) → roles.
RolesReader = Callable[[Tenant | None, str], Awaitable[list[str]]]


def session_middleware(store: SessionStore, current_roles: RolesReader) -> type:
    class SessionMiddleware:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            state = scope.setdefault("state", {})
            key = site_key(state)
            if scope["type"] == ScopeType.HTTP and key is not None:
                session_id = _cookie(scope, SESSION_COOKIE)
                if session_id:
                    user = await store.load(session_id, key)
                    if user is not None and user.roles_stale:
                        # Who holds what on this site changed since these roles were read
                        # (a revocation, a suspension): read them again before anything runs.
                        version = await store.roles_version(key)
                        tenant = state.get("tenant")
                        roles = await current_roles(
                            tenant if isinstance(tenant, Tenant) else None, user.personal_id
                        )
                        await store.refresh_roles(user, roles, version)
                    state["user"] = user
            await self.app(scope, receive, send)

    return SessionMiddleware


def site_key(state: dict[str, object]) -> str | None:
    site = state.get("site")
    if site == "tenant":
        tenant = state.get("tenant")
        return getattr(tenant, "slug", None)
    return "console" if site == "console" else None


def site_bound_csrf(config: CSRFConfig) -> type:
    """Litestar's double-submit CSRF protection with one signing key per site (tenant slug,
    console, platform, e-ID stand-in), derived from ``config.secret``.

    A token is only valid on the site that issued it: a token and cookie pair taken from one
    portal (or a cookie planted for the parent domain from a sibling subdomain) is refused on
    another, even though every portal runs in the same app with the same platform secret."""

    class SiteBoundCSRF:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app
            self._by_site: dict[str, CSRFMiddleware] = {}

        def _for(self, site: str) -> CSRFMiddleware:
            middleware = self._by_site.get(site)
            if middleware is None:
                secret = hmac.new(config.secret.encode(), f"csrf:{site}".encode(), hashlib.sha256).hexdigest()
                middleware = self._by_site[site] = CSRFMiddleware(self.app, replace(config, secret=secret))
            return middleware

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            state = scope.setdefault("state", {})
            site = site_key(state) or str(state.get("site") or "-")
            middleware = self._for(site)
            if scope["type"] == ScopeType.HTTP and scope["method"] in config.safe_methods:
                # A cookie this site did not sign (planted for the parent domain, issued before a
                # key change) is dropped on a page view, so the page issues a fresh one; kept, it
                # would be copied into every form and refuse every post.
                _drop_foreign_cookie(scope, config.cookie_name, middleware.config.secret)
            await middleware(scope, receive, send)

    return SiteBoundCSRF


def _signed_by(token: str, secret: str) -> bool:
    """Litestar's token: 64 hex characters, then their HMAC-SHA256 with the site's secret."""
    half = CSRF_SECRET_LENGTH
    return len(token) == 2 * half and hmac.compare_digest(
        token[half:], generate_csrf_hash(token[:half], secret)
    )


def _drop_foreign_cookie(scope: Scope, name: str, secret: str) -> None:
    value = _cookie(scope, name)
    if value is None or _signed_by(value, secret):
        return
    kept: list[tuple[bytes, bytes]] = []
    for header, raw in scope.get("headers", ()):
        if header == b"cookie":
            parts = [p for p in raw.decode("latin-1").split(";") if p.strip().split("=", 1)[0] != name]
            if not parts:
                continue
            raw = ";".join(parts).encode("latin-1")
        kept.append((header, raw))
    scope["headers"] = kept
