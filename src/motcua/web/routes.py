"""Health probes, static files and the portal colours stylesheet, the platform landing page and
the language switch; the portal's information pages (info_pages.py) join the same router."""

from __future__ import annotations

import asyncio
import mimetypes
from pathlib import Path
from typing import Annotated, Any

from litestar import Router, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import File, Redirect, Response
from redis.asyncio import Redis
from sqlalchemy import text

from motcua.core.db import Database
from motcua.core.pages import HttpRequest, page, public_origin
from motcua.core.security import safe_next
from motcua.core.settings import Settings
from motcua.core.theming import DEFAULT_THEME, LANGUAGE_COOKIE, LANGUAGES, Themes
from motcua.tenancy.services import COLOUR
from motcua.web import info_pages

LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600


@get("/healthz", sync_to_thread=False, include_in_schema=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz(db: NamedDependency[Database], redis: NamedDependency[Redis]) -> Response[dict[str, Any]]:
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(2):
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        async with asyncio.timeout(2):
            await redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return Response({"status": "ok" if ready else "unavailable", **checks}, status_code=200 if ready else 503)


@get("/static/{theme:str}/{path:path}", include_in_schema=False, sync_to_thread=False)
def static_file(theme: FromPath[str], path: FromPath[str], themes: NamedDependency[Themes]) -> File:
    """A theme's static file, falling back to the default theme's; never outside those folders."""
    if "\x00" in theme or "\x00" in path or len(path) > 255:
        raise NotFoundException()
    for name in dict.fromkeys((theme, DEFAULT_THEME)):
        base = (themes.themes_dir / name / "static").resolve()
        try:  # a name the file system refuses (too long, bad bytes) is simply not there
            candidate = (base / path.lstrip("/")).resolve()
            found = candidate.is_relative_to(base) and candidate.is_file()
        except (OSError, ValueError):
            found = False
        if found:
            media_type = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
            headers = {"Cache-Control": "public, max-age=3600"}
            if path.lstrip("/").startswith("vendor/"):
                # The API reference runs sandboxed in an opaque origin (web.headers), so its
                # viewer's <script crossorigin> is a CORS request from origin "null". These are
                # public third-party files, the same for everyone and fetched without credentials.
                headers["Access-Control-Allow-Origin"] = "*"
            return File(
                path=Path(candidate),
                media_type=media_type,
                content_disposition_type="inline",
                headers=headers,
            )
    raise NotFoundException()


# Under /static/ so it answers on every host before tenant resolution, like the theme files.
@get("/static/branding.css", include_in_schema=False, sync_to_thread=False)
def branding_stylesheet(
    primary: FromQuery[str | None] = None,
    accent: FromQuery[str | None] = None,
    # Not named `scope`: Litestar reserves that parameter name for the ASGI scope.
    for_part: Annotated[str | None, QueryParameter(name="scope")] = None,
) -> Response[str]:
    """A portal's colours as CSS custom properties (base.html links it with the tenant's branding).
    A stylesheet and not a <style> element because the Content-Security-Policy allows no inline
    style. The content depends on the URL alone, so any cache may keep it; a colour that is not
    #rrggbb (onboarding allows nothing else) is left out, and site.css's default stays.
    ``scope=preview`` sets them on ``.branding-preview`` only: the settings page's live preview
    of a header in colours not yet saved (admin.appearance_pages)."""
    colours = {"primary": primary, "accent": accent}
    declarations = "".join(
        f"--{name}: {value}; " for name, value in colours.items() if value and COLOUR.fullmatch(value)
    )
    return Response(
        f"{'.branding-preview' if for_part == 'preview' else ':root'} {{ {declarations}}}\n",
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@get("/platform", include_in_schema=False)
async def platform_home(
    request: HttpRequest,
    db: NamedDependency[Database],
    themes: NamedDependency[Themes],
    settings: NamedDependency[Settings],
) -> Response[str]:
    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT slug, name FROM platform.tenants WHERE status = 'active' ORDER BY name")
            )
        ).all()
    host = request.headers.get("host", "")
    port = ":" + host.rsplit(":", 1)[1] if ":" in host and not host.endswith("]") else ""
    return page(
        request,
        "web/platform.html",
        tenants=rows,
        domain=settings.platform_domain,
        port=port,
        scheme=public_origin(request).split("://", 1)[0],
    )


# Tenant hosts reach /lang/…; the console and platform hosts reach the same URL under their prefix.
@get(
    ["/lang/{code:str}", "/console/lang/{code:str}", "/platform/lang/{code:str}"],
    name="set_language",
    include_in_schema=False,
)
async def set_language(
    settings: NamedDependency[Settings],
    code: FromPath[str],
    next_path: Annotated[str | None, QueryParameter(name="next")] = None,
) -> Response[Any]:
    """Remember the UI language in a cookie and go back to the page (a path on this host only)."""
    if code not in LANGUAGES:
        raise NotFoundException()
    response: Response[Any] = Redirect(safe_next(next_path), status_code=303)
    # Host-only like the session cookie: each portal remembers its own choice.
    response.set_cookie(
        key=LANGUAGE_COOKIE,
        value=code,
        path="/",
        max_age=LANGUAGE_COOKIE_MAX_AGE,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
    )
    return response


router = Router(
    path="/",
    route_handlers=[
        healthz,
        readyz,
        static_file,
        branding_stylesheet,
        platform_home,
        set_language,
        *info_pages.HANDLERS,
    ],
)
