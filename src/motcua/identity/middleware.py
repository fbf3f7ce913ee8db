"""Loads the signed-in user, if any, into ``request.state.user`` for the current site."""

from __future__ import annotations

from http.cookies import SimpleCookie

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

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


def session_middleware(store: SessionStore) -> type:
    class SessionMiddleware:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            state = scope.setdefault("state", {})
            key = site_key(state)
            if scope["type"] == ScopeType.HTTP and key is not None:
                session_id = _cookie(scope, SESSION_COOKIE)
                if session_id:
                    state["user"] = await store.load(session_id, key)
            await self.app(scope, receive, send)

    return SessionMiddleware


def site_key(state: dict[str, object]) -> str | None:
    site = state.get("site")
    if site == "tenant":
        tenant = state.get("tenant")
        return getattr(tenant, "slug", None)
    return "console" if site == "console" else None
