"""Who is calling the API: the bearer token checked against its tenant and its client's current
state, scopes, per-client budgets, and errors as RFC 9457 problem details.

Every call reads the client's row, so a revoked client or a rotated secret stops working on the
very next request (the token itself lives at most ten minutes either way).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.exceptions import HTTPException
from litestar.response import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.apidocs import PROBLEM_MEDIA_TYPE as PROBLEM_MEDIA_TYPE
from motcua.core.audit import Actor, ActorKind, tenant_entry
from motcua.core.db import Database
from motcua.core.dependencies import redis_of, settings_of, tenant_of
from motcua.core.messages import Message, in_language
from motcua.core.pages import client_address
from motcua.core.ratelimit import spend
from motcua.core.tenant import Tenant
from motcua.core.theming import DEFAULT_LANGUAGE, LANGUAGES, term_filter, translations
from motcua.integrations import tokens
from motcua.integrations.models import ApiClientRow


def _(message: str) -> str:
    """Marks a Vietnamese msgid for extraction; the page that shows it translates it."""
    return message


SCOPES = ("dossiers:intake", "dossiers:read", "catalog:read", "webhooks")

# What each scope allows, in words (the OpenAPI security scheme and the /manage pages show them).
SCOPE_DESCRIPTIONS = {
    "dossiers:intake": _("Nộp hồ sơ vào cổng dịch vụ công của địa phương"),
    "dossiers:read": _("Xem trạng thái và lịch sử hồ sơ"),
    "catalog:read": _("Xem danh mục thủ tục hành chính"),
    "webhooks": _("Đăng ký nhận thông báo khi hồ sơ thay đổi trạng thái"),
}


# The budget each client spends, one count per client (not per address): a system behind one
# gateway address must not starve another (core/settings MOTCUA_RATE_LIMITS "api").
API_BUDGET = "api"

_TITLES = {
    400: _("Yêu cầu không hợp lệ"),
    401: _("Chưa xác thực"),
    403: _("Không đủ quyền"),
    404: _("Không tìm thấy"),
    405: _("Phương thức không được hỗ trợ"),
    409: _("Xung đột"),
    413: _("Dữ liệu quá lớn"),
    415: _("Kiểu dữ liệu không được hỗ trợ"),
    422: _("Dữ liệu không hợp lệ"),
    429: _("Quá nhiều yêu cầu"),
    503: _("Dịch vụ tạm thời gián đoạn"),
}
_TYPES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    422: "invalid",
    429: "rate-limited",
    503: "unavailable",
}


def problem_type(status: int) -> str:
    return f"urn:motcua:problem:{_TYPES.get(status, 'error')}"


class ProblemError(HTTPException):
    """An API error, answered as ``application/problem+json`` (RFC 9457) with one entry in
    ``errors`` per invalid field (``{"field": ..., "message": ...}``)."""

    def __init__(
        self,
        status: int,
        title: str | None = None,
        detail: str | None = None,
        errors: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.title = title or _TITLES.get(status, _("Lỗi"))
        # The texts as given (a ``Message`` keeps its msgid and values): the response writes them
        # in the caller's language.
        if isinstance(errors, Mapping):
            self.errors = [{"field": str(k), "message": _kept(v)} for k, v in errors.items()]
        else:
            self.errors = [{"field": str(e["field"]), "message": _kept(e["message"])} for e in errors or ()]
        super().__init__(detail=detail or self.title, status_code=status, headers=headers)
        self.problem_detail = detail

    def body(self, lang: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
        """The problem in ``lang``: ``title``, ``detail`` and each error's ``message`` translated
        (Vietnamese, the msgids' language, unless asked otherwise); codes and fields as they are."""
        t = translations(lang)
        term = term_filter(t.gettext)

        def say(text: str) -> str:
            return in_language(text, t.gettext, term, lang)

        body: dict[str, Any] = {
            "type": problem_type(self.status),
            "title": say(self.title),
            "status": self.status,
        }
        if self.problem_detail:
            body["detail"] = say(self.problem_detail)
        if self.errors:
            body["errors"] = [{"field": e["field"], "message": say(e["message"])} for e in self.errors]
        return body


def _kept(text: object) -> str:
    # A Message stays one (``str()`` would copy its text and drop its msgid).
    return text if isinstance(text, str) else str(text)


def problem_language(request: Request[Any, Any, Any]) -> str:
    """The language of a problem: the caller's Accept-Language (RFC 9110 §12.5.4: the most
    preferred of the portal's languages, ``q=0`` meaning "not this one"), else Vietnamese. Unlike
    pages (a cookie, core.pages) a system has no other way to say which it reads."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(request.headers.get("accept-language", "").split(",")[:20]):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        language = tag.strip().lower().split("-")[0]
        if quality > 0 and language in LANGUAGES:
            ranked.append((-quality, index, language))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def problem_response(request: Request[Any, Any, Any], exc: ProblemError) -> Response[Any]:
    """The exception handler of ``ProblemError`` (registered by the app)."""
    lang = problem_language(request)
    headers = {
        **(exc.headers or {}),
        "Cache-Control": "no-store",
        "Content-Language": lang,
        "Vary": "Accept-Language",
    }
    return Response(exc.body(lang), status_code=exc.status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def http_problem_response(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Litestar's own errors on API routes (a body it could not parse, a method not allowed, a
    rate limit) in the same problem format as ours."""
    if isinstance(exc, ProblemError):
        return problem_response(request, exc)
    status = exc.status_code
    detail = None if status >= 500 else (str(exc.detail) if exc.detail else None)
    return problem_response(request, ProblemError(status, detail=detail, headers=dict(exc.headers or {})))


@dataclass(frozen=True, slots=True)
class ApiClient:
    """The authenticated caller: a registered system of this tenant, with the scopes of its token."""

    id: int
    client_id: str
    name: str
    source_system: str
    scopes: frozenset[str]


def _realm(request: Request[Any, Any, Any]) -> str:
    tenant = tenant_of(request)
    return tenant.slug if tenant is not None else "motcua"


def unauthorized(
    request: Request[Any, Any, Any], error: str | None = None, detail: str | None = None
) -> ProblemError:
    """401 with the RFC 6750 §3 challenge: no ``error`` when no token was sent at all."""
    challenge = f'Bearer realm="{_realm(request)}"'
    if error:
        challenge += f', error="{error}"'
    return ProblemError(
        401,
        detail=detail or Message("Cần một access token hợp lệ (Authorization: Bearer …) của cổng này."),
        headers={"WWW-Authenticate": challenge},
    )


async def authenticate(request: Request[Any, Any, Any], db_session: AsyncSession) -> ApiClient:
    """The client behind the request's bearer token, or a 401 problem. Spends one unit of the
    client's API budget (429 past it)."""
    tenant = tenant_of(request)
    if tenant is None:
        raise unauthorized(request)
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise unauthorized(request)
    claims = tokens.verify(settings_of(request).secret_key, tenant.slug, value.strip())
    if claims is None:
        raise unauthorized(request, "invalid_token", Message("Access token không hợp lệ hoặc đã hết hạn."))
    row = await db_session.scalar(select(ApiClientRow).where(ApiClientRow.client_id == claims.client_id))
    if row is None or row.revoked_at is not None or tokens.secret_mark(row.secret_hash) != claims.mark:
        raise unauthorized(request, "invalid_token", Message("Access token không còn hiệu lực."))
    size = settings_of(request).rate_limits[API_BUDGET]
    wait = await spend(redis_of(request), API_BUDGET, size, f"{tenant.slug}:client:{row.id}")
    if wait is not None:
        raise ProblemError(
            429, detail=Message("Vượt quá số yêu cầu cho phép mỗi phút."), headers={"Retry-After": str(wait)}
        )
    return ApiClient(
        id=row.id,
        client_id=row.client_id,
        name=row.name,
        source_system=row.source_system,
        # A scope removed from the client since the token was issued no longer counts.
        scopes=claims.scopes & frozenset(row.scopes),
    )


def require_scope(client: ApiClient, scope: str) -> None:
    """403 (RFC 6750 ``insufficient_scope``) unless the token carries ``scope``."""
    if scope not in client.scopes:
        raise ProblemError(
            403,
            detail=Message("Access token thiếu phạm vi (scope) %(scope)s.", scope=scope),
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
        )


# The audit trail of API calls, one shape for every API route --------------------------------------
def client_actor(client: ApiClient, request: Request[Any, Any, Any]) -> Actor:
    # Actor ids may not hold ':'; client ids never do (mc_ + URL-safe letters).
    return Actor(kind=ActorKind.SYSTEM, id=f"api-{client.client_id}", address=client_address(request))


def called(client: ApiClient, request: Request[Any, Any, Any], status: int, **more: Any) -> Any:
    """The ``api.called`` audit row of one call: run it on the call's own transaction."""
    return tenant_entry(
        "api.called",
        actor=client_actor(client, request),
        client_id=client.client_id,
        method=request.method,
        path=request.url.path[:200],
        status=status,
        address=client_address(request),
        **more,
    )


async def audit_refused(
    db: Database, tenant: Tenant, client: ApiClient, request: Request[Any, Any, Any], status: int
) -> None:
    """A refused call, audited in a transaction of its own (the call's own one rolled back)."""
    async with db.tenant_session(tenant) as session:
        await session.execute(called(client, request, status))
