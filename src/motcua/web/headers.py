"""Security headers on every HTTP response.

A strict Content-Security-Policy (no inline script or style anywhere: every script and style
is a file of the theme, see tests/security/test_headers.py), framing refused, no MIME sniffing,
a referrer policy, no caching of pages that hold personal data, and HSTS in production.

It wraps the app's whole ASGI handler, outside every other middleware, so the pages those send
themselves (unknown host, suspended portal, refused request) and those the exception handlers
render get the same headers as any handler's page. A header the response set itself is kept:
file downloads send their own, stricter ``default-src 'none'; sandbox``, the e-ID stand-in its
own page headers, static files their own caching. The one response that may be framed is the
officer's view of a PDF (``backoffice.routes.officer_file``, shown beside the workspace's actions):
it sends ``frame-ancestors 'self'`` and ``X-Frame-Options: SAMEORIGIN`` itself; every page keeps
``frame-ancestors 'none'`` and ``DENY``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from motcua.core.dependencies import Connection, site_of, user_of
from motcua.core.settings import Settings
from motcua.identity.sessions import UserSession

Headers = list[tuple[bytes, bytes]]

# Where a form may send the browser. Chromium checks form-action on every redirect that follows
# a form submission, not only on the form's own action, so 'self' alone would stop two of our
# forms half-way: see ``SecurityHeaders._form_action``.
_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


def content_security_policy(form_targets: Iterable[str] = ()) -> str:
    """The policy of every page; ``form_targets`` are origins a form's redirect may go to."""
    return _POLICY.format(form_action=" ".join(["'self'", *form_targets]))


STRICT_POLICY = content_security_policy()

# The one page that needs inline script and style: the API reference at /schema (Litestar's
# Redoc page) starts the viewer with an inline script that carries the whole schema, and the
# viewer styles itself inline. It holds no personal data and no form. Rather than weaken the
# portal's policy, the page is sandboxed without allow-same-origin: its scripts run in an opaque
# origin, so they can read no cookie or storage of the portal and make no request as the
# signed-in citizen. The viewer is the portal's own copy (API_REFERENCE_VIEWER, vendored under
# themes/default/static/vendor/), so the page works with no CDN reachable, and loads nothing
# from anywhere else.
API_REFERENCE_VIEWER = "/static/default/vendor/redoc/redoc.standalone.js"
API_REFERENCE_POLICY = (
    "sandbox allow-scripts allow-popups; default-src 'none'; "
    "script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "font-src 'self'; img-src 'self' data:; worker-src blob:; "
    "connect-src 'none'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
API_REFERENCE_ROOT = "/schema"

# Paths (as the router sees them: the console host's arrive under /console) whose pages show
# personal data or back-office work: no browser or proxy may keep a copy (a shared computer's
# back button, a caching proxy). /procedures/<code>/apply… is the form prefilled from the e-ID.
NO_STORE_ROOTS = (
    "/my",
    "/officer",
    "/manage",
    "/payments",
    "/feedback",
    "/receipts",
    "/console",
    "/login",
    "/auth",
    "/logout",
    "/account",
    "/platform/dev",  # the development mail catcher's inbox: every mail sent to citizens
)
_APPLY = re.compile(r"^/procedures/[^/]+/apply(?:/|$)")

# Stripe Checkout's hosted page, where "Thanh toán trực tuyến" sends the citizen.
STRIPE_CHECKOUT_ORIGIN = "https://checkout.stripe.com"

HSTS = b"max-age=63072000; includeSubDomains"

# An origin as it may appear in a CSP source list: nothing from a provider's discovery document
# gets into the header unless it is a plain scheme://host[:port].
_ORIGIN = re.compile(r"^https?://(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$")


def origin_of(url: str | None) -> str | None:
    """``https://idp.example.vn:8443/logout?x`` → ``https://idp.example.vn:8443``; None when ``url``
    is not a plain http(s) URL."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 — raises ValueError on a malformed port
    except ValueError:
        return None
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    return origin if _ORIGIN.match(origin) else None


def is_personal_path(path: str) -> bool:
    return _APPLY.match(path) is not None or any(
        path == root or path.startswith(root + "/") for root in NO_STORE_ROOTS
    )


def _is_api_reference(path: str) -> bool:
    return path == API_REFERENCE_ROOT or path.startswith(API_REFERENCE_ROOT + "/")


class SecurityHeaders:
    """ASGI middleware adding the headers to the start of every HTTP response."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.production = settings.is_production
        # Built once: every response gets these unless it set its own (a hot path: each
        # request of every portal passes here).
        self._fixed: Headers = [
            (b"x-frame-options", b"DENY"),  # for browsers that predate frame-ancestors
            (b"x-content-type-options", b"nosniff"),
            # same-origin: our URLs carry dossier codes (/my/dossiers/<code>, /tracking?code=…)
            # and search terms, and no other site needs to know where a citizen came from (the
            # e-ID provider and the checkout know us by client id and session id). Within the
            # portal the full referrer is still sent.
            (b"referrer-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
            (b"cross-origin-opener-policy", b"same-origin"),
            *([(b"strict-transport-security", HSTS)] if self.production else []),
        ]
        self._strict = STRICT_POLICY.encode()
        # The checkout the pay form redirects to: the local stand-in's address in development.
        self.checkout_origin: str | None = None
        if settings.stripe_secret_key:
            self.checkout_origin = origin_of(settings.stripe_api_base) or STRIPE_CHECKOUT_ORIGIN

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Read when the response starts, not when the request arrives: by then the tenant
                # middleware has moved the console's paths under /console and the session
                # middleware has loaded the user.
                headers = list(message.get("headers", ()))
                message["headers"] = self.headers_for(scope, message["status"], headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def headers_for(self, scope: Scope, status: int, headers: Headers) -> Headers:
        present = {name.lower() for name, _ in headers}
        path: str = scope.get("path", "")
        connection: Connection = ASGIConnection(scope)
        user = user_of(connection)
        signed_in = isinstance(user, UserSession)

        added: Headers = []

        def add(name: bytes, value: bytes) -> None:
            if name not in present:
                added.append((name, value))

        content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
        if _is_api_reference(path) and status == 200 and content_type.startswith(b"text/html"):
            add(b"content-security-policy", API_REFERENCE_POLICY.encode())
        elif signed_in:
            policy = content_security_policy(self._form_action(user, site_of(connection)))
            add(b"content-security-policy", policy.encode())
        else:
            add(b"content-security-policy", self._strict)
        for name, value in self._fixed:
            add(name, value)

        # No browser or proxy keeps a copy of a page with personal data (a shared computer's back
        # button, a caching proxy) or of a response that sets a cookie (a proxy would hand one
        # visitor's cookie to the next). A signed-in person's pages carry their name and what they
        # may do even on public paths. A response's own Cache-Control is kept, like any header it
        # set: file downloads choose theirs, static files ask for public caching.
        if b"set-cookie" in present or is_personal_path(path) or signed_in:
            add(b"cache-control", b"no-store")
        return headers + added

    def _form_action(self, user: object, site: str | None) -> list[str]:
        """The origins besides 'self' a form on this page may end up at, through a redirect.

        - "Đăng xuất" posts to /logout, which redirects to the e-ID provider's end-session
          endpoint (RP-initiated logout), which sends the browser back here. So a signed-in
          person's pages allow that one origin, taken from their own session (a tenant may use
          its own provider): exactly the pages that show the logout button.
        - "Thanh toán trực tuyến" posts to /my/dossiers/<code>/pay, which redirects to the
          payment provider's checkout page: allowed on a tenant's pages for a signed-in person
          (the only one who sees the button), when online payment is configured.
        Logging in needs nothing here: /login is a link, and links are not forms.
        """
        if not isinstance(user, UserSession):
            return []
        targets: list[str] = []
        end_session = origin_of(user.end_session_endpoint)
        if end_session is not None:
            targets.append(end_session)
        if site == "tenant" and self.checkout_origin is not None and self.checkout_origin not in targets:
            targets.append(self.checkout_origin)
        return targets
