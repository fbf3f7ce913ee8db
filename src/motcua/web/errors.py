"""Error pages in Vietnamese, rendered in the tenant's theme when there is one.

When the database cannot be reached every page answers 503 with the friendly "temporarily
interrupted" page and ``Retry-After``, as the tenant middleware does when a host lookup fails;
the pool connects again by itself once the server is back, so nothing needs a restart.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any
from urllib.parse import quote

import asyncpg
import redis.exceptions
from litestar.exceptions import HTTPException, NotFoundException
from litestar.response import Redirect, Response
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError

from motcua.core.messages import in_language
from motcua.core.pages import HttpRequest, not_found_page
from motcua.core.theming import term_filter, translations
from motcua.integrations.auth import problem_language

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
# SQLSTATE class 08 (connection exception), 57P01-57P03 (server shutting down, crashed, starting up).
_UNREACHABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03")
_DRIVER_MODULES = ("sqlalchemy.", "asyncpg.", "psycopg.")


def _wants_json(request: HttpRequest) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def http_exception_handler(request: HttpRequest, exc: HTTPException) -> Response[Any]:
    if exc.status_code == 429:
        return _too_many(request, exc)
    if _wants_json(request):
        return _json_error(request, exc)
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
        return page(request, "web/forbidden.html", status_code=403, title=title, message=message)
    if exc.status_code in (404, 405):
        return not_found_page(request, "Trang bạn tìm không tồn tại hoặc đã được chuyển đi.")
    if exc.status_code in (400, 413):
        from motcua.core.pages import page

        title = "Tệp hoặc biểu mẫu quá lớn" if exc.status_code == 413 else "Yêu cầu không hợp lệ"
        message = "Dữ liệu gửi lên không đúng. Vui lòng quay lại trang trước, kiểm tra và gửi lại."
        return page(request, "web/forbidden.html", status_code=exc.status_code, title=title, message=message)
    return _json_error(request, exc)


def _json_error(request: HttpRequest, exc: HTTPException) -> Response[Any]:
    """An error for a program, its ``detail`` in the caller's Accept-Language (Vietnamese
    unless asked otherwise), as the API's problem details are."""
    lang = problem_language(request)
    detail: Any = exc.detail
    if isinstance(detail, str):
        t = translations(lang)
        detail = in_language(detail, t.gettext, term_filter(t.gettext), lang)
    return Response(
        {"status_code": exc.status_code, "detail": detail},
        status_code=exc.status_code,
        headers={"Content-Language": lang, "Vary": "Accept-Language"},
    )


def database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc``, or an error it was raised from, says the database cannot be reached:
    SQLAlchemy's ``OperationalError``/``InterfaceError`` or an invalidated connection, a driver
    error with a connection SQLSTATE, or an ``OSError`` (refused, no socket, timeout) raised
    while the pool connected."""
    error: BaseException | None = exc
    while error is not None:
        if isinstance(error, OperationalError | InterfaceError):
            return True
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return True
        if str(getattr(error, "sqlstate", None) or "").startswith(_UNREACHABLE_SQLSTATES):
            return True
        if isinstance(error, OSError) and any(
            str(frame.f_globals.get("__name__", "")).startswith(_DRIVER_MODULES)
            for frame, _ in traceback.walk_tb(error.__traceback__)
        ):
            return True
        error = error.__cause__
    return False


def database_unavailable(request: HttpRequest, exc: Exception) -> Response[Any]:
    """503 and the friendly page: one log line per request, not a traceback, while it lasts."""
    reason = (str(exc).strip().splitlines() or [""])[0]
    log.warning(
        "database or Redis unreachable on %s %s: %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
        reason,
    )
    headers = {"retry-after": str(RETRY_AFTER_SECONDS), "cache-control": "no-store"}
    if _wants_json(request):
        detail = "Hệ thống tạm thời gián đoạn, vui lòng thử lại sau ít phút."
        return Response({"status_code": 503, "detail": detail}, status_code=503, headers=headers)
    from motcua.core.pages import page

    return page(request, "web/error.html", status_code=503, headers=headers)


def _too_many(request: HttpRequest, exc: HTTPException) -> Response[Any]:
    """429 with how long to wait, in words and in ``Retry-After``."""
    wait = (exc.headers or {}).get("Retry-After", "60")
    headers = {"retry-after": wait, "cache-control": "no-store"}
    message = f"Bạn đã gửi quá nhiều yêu cầu trong một phút. Vui lòng thử lại sau {wait} giây."
    if _wants_json(request):
        return Response({"status_code": 429, "detail": message}, status_code=429, headers=headers)
    from motcua.core.pages import page

    return page(
        request,
        "web/forbidden.html",
        status_code=429,
        headers=headers,
        title="Quá nhiều yêu cầu",
        message=message,
    )


def bad_data(exc: BaseException) -> bool:
    """Whether the database refused a value a request carried (a number beyond 64 bits, a NUL
    character in multipart text, text it cannot encode): the request's fault, not ours, and its
    transaction was rolled back."""
    error: BaseException | None = exc
    while error is not None:
        if isinstance(error, DataError | asyncpg.exceptions.DataError):
            return True
        error = error.__cause__
    return False


def redis_unreachable(exc: BaseException) -> bool:
    """Sessions, limits and the job queue live in Redis: while it is down, signed-in pages
    cannot be served (anonymous ones still are)."""
    error: BaseException | None = exc
    while error is not None:
        if isinstance(error, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
            return True
        error = error.__cause__
    return False


def internal_error_handler(request: HttpRequest, exc: Exception) -> Response[Any]:
    """Every error that is not an HTTP answer: 400 for a value the database refused, 503 when
    the database or Redis cannot be reached (they come back by themselves), otherwise a 500 that
    is logged with its traceback."""
    if bad_data(exc):
        log.info("refused input on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return http_exception_handler(request, HTTPException(status_code=400, detail="invalid input"))
    if database_unreachable(exc) or redis_unreachable(exc):
        return database_unavailable(request, exc)
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    if _wants_json(request):
        return Response({"status_code": 500, "detail": "Lỗi hệ thống"}, status_code=500)
    html = (
        "<!doctype html><html lang='vi'><meta charset='utf-8'><title>Lỗi hệ thống</title>"
        "<h1>Đã có lỗi xảy ra</h1><p>Hệ thống gặp sự cố khi xử lý yêu cầu. Dữ liệu của bạn không bị mất; "
        "vui lòng thử lại sau ít phút.</p></html>"
    )
    return Response(html, status_code=500, media_type="text/html")


# Litestar hands every exception that is not an HTTPException to the 500 handler, which sorts
# out the database being unreachable (whatever class that arrives as) from real faults.
EXCEPTION_HANDLERS = {
    NotFoundException: http_exception_handler,
    HTTPException: http_exception_handler,
    500: internal_error_handler,
}
