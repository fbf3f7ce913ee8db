"""Rendering a full page: the tenant's theme, the UI language, the signed-in user and the CSRF token."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Response
from litestar.utils.scope.state import ScopeState

from motcua.core.dependencies import settings_of, site_of, tenant_of, themes_of, user_of
from motcua.core.theming import DEFAULT_LANGUAGE, LANGUAGE_COOKIE, LANGUAGES

# The request type handlers take, and an HTML form body: one definition for every domain.
HttpRequest = Request[Any, Any, Any]
FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def csrf_token(request: HttpRequest) -> str:
    """The token forms and htmx requests send back (set by Litestar's CSRF middleware)."""
    token = ScopeState.from_scope(request.scope).csrf_token
    return token if isinstance(token, str) else ""


def language(request: HttpRequest) -> str:
    """The UI language the person chose (cookie set by GET /lang/<code>); Vietnamese otherwise.
    Accept-Language is deliberately ignored: the portals are Vietnamese unless asked."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def public_origin(request: HttpRequest) -> str:
    """``scheme://host`` as the browser sees this site, for links that leave the page (e-ID
    redirect URIs, checkout return URLs, the slip's QR code). Production is always served over
    TLS by the proxy in front, whose X-Forwarded-Proto the app does not have to trust."""
    production = settings_of(request).is_production
    scheme = "https" if production else request.url.scheme
    return f"{scheme}://{request.headers.get('host', '')}"


def public_path(request: HttpRequest) -> str:
    """This page's path and query as the browser sees them: the console, platform and e-ID hosts
    reach handlers under a path prefix (motcua.tenancy.resolution) that their URLs don't have."""
    path = request.url.path
    site = site_of(request)
    if site in ("console", "platform", "dev-eid"):
        prefix = "/" + site
        if path == prefix or path.startswith(prefix + "/"):
            path = path[len(prefix) :] or "/"
    query = request.url.query
    return f"{path}?{query}" if query else path


def phase(request: HttpRequest) -> str | None:
    """The environment a page says it runs in ("development", "test"), or None in production."""
    settings = settings_of(request)
    return None if settings.is_production else settings.env


def page(
    request: HttpRequest,
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response[str]:
    html = themes_of(request).render(
        template,
        tenant=tenant_of(request),
        lang=language(request),
        user=user_of(request),
        site=site_of(request),
        csrf_token=csrf_token(request),
        request_path=request.url.path,
        here=public_path(request),
        # The phase banner of base.html: every page outside production says it is a test portal.
        phase=phase(request),
        **context,
    )
    return Response(html, status_code=status_code, media_type="text/html", headers=headers)


def not_found_page(request: HttpRequest, message: str) -> Response[str]:
    """The 404 page with a message saying what was not found."""
    return page(request, "web/not_found.html", status_code=404, message=message)


def client_address(request: HttpRequest) -> str | None:
    """The address the request came from, for the history and audit rows of what it changes."""
    return request.client.host if request.client else None
