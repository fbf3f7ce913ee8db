"""The service navigation's links (GOV.UK service navigation): which a page shows, by site and
the signed-in person's roles, and which is current. ``partials/service_nav.html`` names and
renders them, once per tenant, language and ``ServiceNav.key`` (core.fragments): every
anonymous visitor of a section sees the same navigation, so it is not rendered for each page view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


class Reader(Protocol):
    """The signed-in person as the navigation needs them (identity.sessions.UserSession)."""

    def has(self, role: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class NavLink:
    href: str
    # aria-current: "page" on the link's own page, "true" elsewhere in its section, else None.
    current: str | None
    first_staff: bool = False  # the first link of the staff's part, set apart from the public ones


@dataclass(frozen=True, slots=True)
class ServiceNav:
    links: tuple[NavLink, ...]
    dossier_count: int  # "Hồ sơ của tôi (3)"; 0 shows no count

    @property
    def key(self) -> tuple[Any, ...]:
        """Everything the rendered navigation depends on besides tenant and language: bounded
        (a few links, a few states, a count), and nothing that names a person."""
        return (self.links, self.dossier_count)


Rule = tuple[str, Callable[[str], bool]]

# href → is the page at ``path`` in its section.
_PUBLIC: tuple[Rule, ...] = (
    ("/procedures", lambda p: p == "/" or p.startswith("/procedures")),
    ("/tracking", lambda p: p.startswith("/tracking")),
    ("/my/dossiers", lambda p: p.startswith("/my/dossiers")),
    ("/my/documents", lambda p: p.startswith("/my/documents")),
    ("/feedback", lambda p: p == "/feedback"),
    ("/help", lambda p: p == "/help"),
)
_OFFICER: tuple[Rule, ...] = (
    ("/officer", lambda p: p == "/officer" or p.startswith("/officer/dossiers") or p == "/officer/feedback"),
    ("/officer/receive", lambda p: p.startswith("/officer/receive")),
)
_TENANT_ADMIN: tuple[Rule, ...] = (("/manage/roles", lambda p: p.startswith("/manage")),)
_CONSOLE: tuple[Rule, ...] = (
    ("/", lambda p: p == "/" or (p.startswith("/tenants/") and p != "/tenants/new")),
    ("/tenants/new", lambda p: p == "/tenants/new"),
    ("/ranking", lambda p: p.startswith("/ranking")),
    ("/audit", lambda p: p.startswith("/audit")),
    ("/admins", lambda p: p.startswith("/admins")),
)


def service_nav(site: str | None, here: str, user: Reader | None) -> ServiceNav:
    """The navigation of a page at ``here`` (path and query) on ``site`` for ``user``."""
    path = here.split("?", 1)[0]
    staff: tuple[Rule, ...] = ()
    if site == "tenant":
        public = _PUBLIC
        if user is not None and user.has("officer"):
            staff += _OFFICER
        if user is not None and user.has("tenant_admin"):
            staff += _TENANT_ADMIN
    elif site == "console" and user is not None and user.has("platform_admin"):
        public = _CONSOLE
    else:
        return ServiceNav((), 0)
    links = [NavLink(href, _current(href, path, inside)) for href, inside in public]
    links += [
        NavLink(href, _current(href, path, inside), first_staff=i == 0)
        for i, (href, inside) in enumerate(staff)
    ]
    count = (getattr(user, "dossier_count", None) or 0) if site == "tenant" else 0
    return ServiceNav(tuple(links), int(count))


def _current(href: str, path: str, inside: Callable[[str], bool]) -> str | None:
    if not inside(path):
        return None
    return "page" if path == href else "true"
