"""Error pages in Vietnamese, rendered in the tenant's theme when there is one."""

from __future__ import annotations

import logging

from litestar import Request
from litestar.exceptions import HTTPException, NotFoundException
from litestar.response import Response

from motcua.tenancy.schemas import Tenant
from motcua.web.theming import Themes

log = logging.getLogger(__name__)


def not_found_page(themes: Themes, tenant: Tenant | None, message: str) -> Response[str]:
    html = themes.render("web/not_found.html", tenant=tenant, message=message)
    return Response(html, status_code=404, media_type="text/html")


def _wants_json(request: Request) -> bool:  # type: ignore[type-arg]
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def http_exception_handler(request: Request, exc: HTTPException) -> Response[object]:  # type: ignore[type-arg]
    themes: Themes = request.app.state.themes
    tenant = request.state.get("tenant")
    if _wants_json(request) or exc.status_code not in (404, 405):
        return Response({"status_code": exc.status_code, "detail": exc.detail}, status_code=exc.status_code)
    return not_found_page(themes, tenant, "Trang bạn tìm không tồn tại hoặc đã được chuyển đi.")  # type: ignore[return-value]


def internal_error_handler(request: Request, exc: Exception) -> Response[object]:  # type: ignore[type-arg]
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    if _wants_json(request):
        return Response({"status_code": 500, "detail": "Lỗi hệ thống"}, status_code=500)
    html = (
        "<!doctype html><html lang='vi'><meta charset='utf-8'><title>Lỗi hệ thống</title>"
        "<h1>Đã có lỗi xảy ra</h1><p>Hệ thống gặp sự cố khi xử lý yêu cầu. Dữ liệu của bạn không bị mất; "
        "vui lòng thử lại sau ít phút.</p></html>"
    )
    return Response(html, status_code=500, media_type="text/html")


EXCEPTION_HANDLERS = {
    NotFoundException: http_exception_handler,
    HTTPException: http_exception_handler,
    500: internal_error_handler,
}
