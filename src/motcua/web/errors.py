"""Error pages in Vietnamese, rendered in the tenant's theme when there is one."""

from __future__ import annotations

import logging
from urllib.parse import quote

from litestar import Request
from litestar.exceptions import HTTPException, NotFoundException
from litestar.response import Redirect, Response

from motcua.core.pages import not_found_page

log = logging.getLogger(__name__)


def _wants_json(request: Request) -> bool:  # type: ignore[type-arg]
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def http_exception_handler(request: Request, exc: HTTPException) -> Response[object]:  # type: ignore[type-arg]
    if _wants_json(request):
        return Response({"status_code": exc.status_code, "detail": exc.detail}, status_code=exc.status_code)
    if exc.status_code == 401 and request.method == "GET":
        # Not signed in: go and sign in, then come back here.
        return Redirect(f"/login?next={quote(request.url.path)}", status_code=303)
    if exc.status_code in (401, 403):
        from motcua.core.pages import page

        if "CSRF" in str(exc.detail):
            title = "Biểu mẫu đã hết hạn"
            message = "Vì lý do an toàn, biểu mẫu này không còn hiệu lực. Vui lòng tải lại trang và gửi lại."
        else:
            title = "Bạn không có quyền truy cập trang này"
            message = (
                "Trang này dành cho cán bộ hoặc quản trị viên được cấp quyền trên cổng dịch vụ công này."
            )
        return page(request, "web/forbidden.html", status_code=403, title=title, message=message)  # type: ignore[return-value]
    if exc.status_code in (404, 405):
        return not_found_page(request, "Trang bạn tìm không tồn tại hoặc đã được chuyển đi.")  # type: ignore[return-value]
    if exc.status_code in (400, 413):
        from motcua.core.pages import page

        title = "Tệp hoặc biểu mẫu quá lớn" if exc.status_code == 413 else "Yêu cầu không hợp lệ"
        message = "Dữ liệu gửi lên không đúng. Vui lòng quay lại trang trước, kiểm tra và gửi lại."
        return page(request, "web/forbidden.html", status_code=exc.status_code, title=title, message=message)  # type: ignore[return-value]
    return Response({"status_code": exc.status_code, "detail": exc.detail}, status_code=exc.status_code)


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
