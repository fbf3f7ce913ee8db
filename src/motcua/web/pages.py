"""Rendering a full page: the tenant's theme, the signed-in user and the CSRF token."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Response
from litestar.utils.scope.state import ScopeState

from motcua.web.theming import Themes


def csrf_token(request: Request) -> str:  # type: ignore[type-arg]
    """The token forms and htmx requests send back (set by Litestar's CSRF middleware)."""
    token = ScopeState.from_scope(request.scope).csrf_token
    return token if isinstance(token, str) else ""


def page(
    request: Request,  # type: ignore[type-arg]
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response[str]:
    themes: Themes = request.app.state.themes
    html = themes.render(
        template,
        tenant=request.state.get("tenant"),
        user=request.state.get("user"),
        site=request.state.get("site"),
        csrf_token=csrf_token(request),
        request_path=request.url.path,
        **context,
    )
    return Response(html, status_code=status_code, media_type="text/html", headers=headers)
