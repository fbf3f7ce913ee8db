"""The central console on ``admin.<platform domain>`` (placeholder until identity lands)."""

from __future__ import annotations

from litestar import Router, get
from litestar.di import NamedDependency
from litestar.response import Response

from motcua.web.theming import Themes


@get("/", name="console_home", include_in_schema=False)
async def console_home(themes: NamedDependency[Themes]) -> Response[str]:
    return Response(themes.render("admin/console.html"), media_type="text/html")


router = Router(path="/console", route_handlers=[console_home])
