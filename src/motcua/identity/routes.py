"""Login with the national e-ID, logout, the account page, and the role pages.

The same handlers serve tenant hosts and the console host (whose paths arrive prefixed with
``/console``); the session they create belongs to that one site.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from litestar import Router, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import PermissionDeniedException
from litestar.params import Body, FromQuery, QueryParameter
from litestar.response import Redirect, Response
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.dependencies import site_of, tenant_of
from motcua.core.pages import HttpRequest, client_address, language, page, public_origin
from motcua.core.ratelimit import limited
from motcua.core.security import safe_next
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.identity.guards import requires_login, requires_tenant_admin
from motcua.identity.middleware import site_key
from motcua.identity.models import GRANTABLE_ROLES, N_, Role
from motcua.identity.oidc import (
    LOGIN_COOKIE,
    STATE_TTL,
    LoginError,
    OidcClient,
    PendingLogin,
    TrialOutcome,
)
from motcua.identity.schemas import IdentityInputError, RoleGrantCreate, mask_personal_id
from motcua.identity.services import (
    GrantView,
    IdentityNotConfiguredError,
    RoleChangeRefusedError,
    check_revoke,
    grant_role,
    list_grants,
    provider_for,
    provider_of_tenant,
    record_console_login,
    record_tenant_login,
    revoke_role,
    valid_personal_id,
)
from motcua.identity.sessions import SESSION_COOKIE, DossierCounter, SessionStore, UserSession

log = logging.getLogger(__name__)


BAD_ACTION = N_("Thao tác không hợp lệ: hãy dùng các nút trên trang.")

MESSAGES = {
    "unreachable": (
        502,
        "Không kết nối được tới hệ thống định danh điện tử",
        "Hệ thống định danh đang bận hoặc tạm gián đoạn. Thông tin của bạn không bị mất; vui lòng thử lại "
        "sau ít phút.",
    ),
    "cancelled": (
        200,
        "Bạn đã hủy đăng nhập",
        "Bạn chưa đăng nhập. Bạn vẫn có thể tra cứu thủ tục và theo dõi hồ sơ mà không cần đăng nhập.",
    ),
    "state": (
        400,
        "Phiên đăng nhập đã hết hạn hoặc không hợp lệ",
        "Đường dẫn đăng nhập đã được dùng, đã quá 10 phút, hoặc được mở từ trình duyệt khác. "
        "Vui lòng đăng nhập lại từ đầu.",
    ),
    "token": (
        400,
        "Không xác thực được thông tin đăng nhập",
        "Thông tin nhận được từ hệ thống định danh không hợp lệ hoặc đã hết hạn. Vui lòng đăng nhập lại.",
    ),
    "audience": (
        400,
        "Thông tin đăng nhập không dành cho cổng này",
        "Hệ thống định danh đã cấp thông tin đăng nhập cho một ứng dụng khác. Vui lòng đăng nhập lại; "
        "nếu lỗi lặp lại, hãy báo cho Bộ phận Một cửa.",
    ),
    "personal_id": (
        403,
        "Tài khoản chưa có số định danh cá nhân",
        "Tài khoản định danh của bạn chưa cung cấp số định danh cá nhân (12 chữ số). Hãy dùng tài khoản định "
        "danh điện tử mức độ 2, hoặc đồng ý chia sẻ số định danh khi đăng nhập.",
    ),
    "provider": (
        502,
        "Hệ thống định danh báo lỗi",
        "Hệ thống định danh không hoàn tất việc đăng nhập. Vui lòng thử lại sau ít phút.",
    ),
    "not_configured": (
        503,
        "Cổng chưa được cấu hình đăng nhập",
        "Cổng dịch vụ công này chưa được kết nối với hệ thống định danh điện tử. "
        "Vui lòng liên hệ Bộ phận Một cửa.",
    ),
}


def _site_key(request: HttpRequest) -> str | None:
    return site_key({"site": site_of(request), "tenant": tenant_of(request)})


def _login_error(request: HttpRequest, code: str, detail: str = "") -> Response[str]:
    status, title, message = MESSAGES[code]
    log.warning("login failed on %s: %s %s", request.headers.get("host", ""), code, detail)
    response = page(
        request, "identity/login_error.html", status_code=status, title=title, message=message, code=code
    )
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


def _session_cookie(settings: Settings, value: str, *, max_age: int | None) -> Cookie:
    # Host-only (no Domain attribute): a session of hanoi.<domain> is never sent to danang.<domain>.
    return Cookie(
        key=SESSION_COOKIE,
        value=value,
        path="/",
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        max_age=max_age,
    )


@get(["/login", "/console/login"], name="login", guards=[limited("login")], include_in_schema=False)
async def login(
    request: HttpRequest,
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
    oidc: NamedDependency[OidcClient],
    next_path: Annotated[str | None, QueryParameter(name="next")] = None,
) -> Response[Any]:
    site = _site_key(request)
    if site is None:
        return _login_error(request, "not_configured")
    try:
        provider = await provider_for(db, settings, tenant_of(request))
    except IdentityNotConfiguredError:
        return _login_error(request, "not_configured")
    try:
        url, browser = await oidc.begin(
            provider,
            site=site,
            redirect_uri=public_origin(request) + "/auth/callback",
            next_path=safe_next(next_path),
        )
    except LoginError as exc:
        return _login_error(request, exc.code, exc.detail)
    response: Response[Any] = Redirect(url, status_code=302)
    response.set_cookie(
        key=LOGIN_COOKIE,
        value=browser,
        path="/",
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        max_age=STATE_TTL,
    )
    return response


@get(
    ["/auth/callback", "/console/auth/callback"],
    name="auth_callback",
    guards=[limited("login")],
    include_in_schema=False,
)
async def auth_callback(
    request: HttpRequest,
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
    oidc: NamedDependency[OidcClient],
    sessions: NamedDependency[SessionStore],
    user: NamedDependency[UserSession | None],
    dossier_counter: NamedDependency[DossierCounter],
    code: FromQuery[str | None] = None,
    oauth_state: Annotated[str | None, QueryParameter(name="state")] = None,
    error: FromQuery[str | None] = None,
) -> Response[Any]:
    site = _site_key(request)
    if site is None:
        return _login_error(request, "not_configured")
    try:
        # The state is consumed first, whatever else is wrong: a callback can never be replayed.
        pending = await oidc.take_pending(oauth_state, request.cookies.get(LOGIN_COOKIE), site)
        if pending.tested_tenant is not None:
            return await _finish_trial(db, settings, oidc, user, pending, code, error)
        if error is not None:
            raise LoginError(
                "cancelled" if error == "access_denied" else "provider", f"provider error {error[:50]}"
            )
        if not code:
            raise LoginError("provider", "no code in callback")
        tenant: Tenant | None = tenant_of(request)
        provider = await provider_for(db, settings, tenant)
        identity = await oidc.finish(provider, pending, code)
    except LoginError as exc:
        return _login_error(request, exc.code, exc.detail)
    except IdentityNotConfiguredError:
        return _login_error(request, "not_configured")

    # Read before the roles: a change made meanwhile leaves the new session stale, never wrong.
    roles_version = await sessions.roles_version(site)
    dossier_count: int | None = None
    if tenant is not None:
        async with db.tenant_session(tenant) as session:
            result = await record_tenant_login(session, identity, language=language(request))
            if result.citizen_id is not None:
                dossier_count = await dossier_counter(session, result.citizen_id)
    else:
        result = await record_console_login(db, identity)
    user = UserSession(
        roles_version=roles_version,
        site=site,
        issuer=identity.issuer,
        subject=identity.subject,
        personal_id=identity.personal_id,
        name=result.name,
        roles=result.roles,
        citizen_id=result.citizen_id,
        id_token=identity.id_token,
        end_session_endpoint=identity.end_session_endpoint,
        client_id=provider.client_id,
        dossier_count=dossier_count,
    )
    # A new id at every login, and the old one dropped: a planted session id is worthless.
    session_id = await sessions.create(user, replacing=request.cookies.get(SESSION_COOKIE))
    target = pending.next_path if tenant is None else landing(pending.next_path, user.roles)
    response: Response[Any] = Redirect(target, status_code=303)
    response.set_cookie(_session_cookie(settings, session_id, max_age=settings.session_absolute_seconds))
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


def landing(asked: str, roles: list[str]) -> str:
    """Where a portal login ends: the page asked for (``next``), else the person's workspace —
    officers their queue, tenant administrators without the officer role /manage — else home."""
    if asked != "/":
        return asked
    if Role.OFFICER in roles:
        return "/officer"
    if Role.TENANT_ADMIN in roles:
        return "/manage/roles"
    return asked


async def _finish_trial(
    db: Database,
    settings: Settings,
    oidc: OidcClient,
    user: UserSession | None,
    pending: PendingLogin,
    code: str | None,
    error: str | None,
) -> Response[Any]:
    """The end of a test login started on a settings page: the provider is tried to the last
    check, and the outcome is kept for that page; nobody is signed in and no role is read."""
    assert pending.tested_tenant is not None
    # The state is bound to the browser that started it; the person must also still be an
    # administrator of the site that started it.
    needed = Role.PLATFORM_ADMIN if pending.site == "console" else Role.TENANT_ADMIN
    if user is None or not user.has(needed):
        raise PermissionDeniedException("administrators only")
    try:
        if error is not None:
            raise LoginError(
                "cancelled" if error == "access_denied" else "provider", f"provider error {error[:50]}"
            )
        if not code:
            raise LoginError("provider", "no code in callback")
        provider = await provider_of_tenant(db, settings, pending.tested_tenant)
        identity = await oidc.finish(provider, pending, code)
        outcome = TrialOutcome(
            tenant=pending.tested_tenant, ok=True, masked_personal_id=mask_personal_id(identity.personal_id)
        )
    except LoginError as exc:
        outcome = TrialOutcome(tenant=pending.tested_tenant, ok=False, code=exc.code, detail=exc.detail)
    except IdentityNotConfiguredError:
        outcome = TrialOutcome(tenant=pending.tested_tenant, ok=False, code="not_configured")
    ref = await oidc.keep_trial_outcome(outcome)
    response: Response[Any] = Redirect(f"{pending.next_path}?outcome={ref}", status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@post(["/logout", "/console/logout"], name="logout", include_in_schema=False, status_code=303)
async def logout(
    request: HttpRequest,
    user: NamedDependency[UserSession | None],
    sessions: NamedDependency[SessionStore],
    oidc: NamedDependency[OidcClient],
) -> Response[Any]:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        await sessions.destroy(session_id)
    target = "/"
    if user is not None and user.end_session_endpoint:
        # RP-initiated logout: the provider ends its own session too, then sends the person back.
        target = await oidc.logout_url(
            user.end_session_endpoint,
            id_token=user.id_token,
            client_id=user.client_id,
            post_logout_redirect_uri=public_origin(request) + "/",
        )
    response: Response[Any] = Redirect(target, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@get("/account", name="account", guards=[requires_login], include_in_schema=False)
async def account(request: HttpRequest) -> Response[str]:
    return page(request, "identity/account.html", role_labels={r.value: r.label for r in Role})


# /manage/roles: what the page says after an action (?done=…), only these whatever the query holds.
ROLE_DONE = ("granted", "already", "revoked", "absent")


def _grant_errors(data: dict[str, str]) -> dict[str, str]:
    """The grant form's errors by field id (the messages are RoleGrantCreate's)."""
    errors: dict[str, str] = {}
    try:
        valid_personal_id(str(data.get("personal_id") or "")[:50])
    except IdentityInputError as exc:
        errors["personal_id"] = str(exc)
    try:
        RoleGrantCreate.parse("0" * 12, data.get("role"))
    except IdentityInputError as exc:
        errors["role"] = str(exc)
    return errors


async def _roles_page(
    request: HttpRequest,
    db_session: AsyncSession,
    user: UserSession,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    confirm: GrantView | None = None,
) -> Response[str]:
    done = str(request.query_params.get("done") or "")
    done_role = str(request.query_params.get("role") or "")
    return page(
        request,
        "identity/manage_roles.html",
        status_code=status_code,
        grants=await list_grants(db_session),
        me=user.personal_id,
        errors=errors or {},
        form=form or {},
        confirm=confirm,
        done=done if done in ROLE_DONE and status_code == 200 and confirm is None else None,
        done_role=Role(done_role).label if done_role in {r.value for r in GRANTABLE_ROLES} else None,
        role_labels={r.value: r.label for r in GRANTABLE_ROLES},
    )


@get("/manage/roles", name="manage_roles", guards=[requires_tenant_admin], include_in_schema=False)
async def manage_roles(
    request: HttpRequest, db_session: NamedDependency[AsyncSession], user: NamedDependency[UserSession]
) -> Response[str]:
    return await _roles_page(request, db_session, user)


@post("/manage/roles", name="grant_role", guards=[requires_tenant_admin], include_in_schema=False)
async def grant_role_form(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    sessions: NamedDependency[SessionStore],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    """``action=grant``, or ``action=revoke``: first the confirmation page (nothing changes),
    then, with ``confirm=yes``, the revocation."""
    action = data.get("action", "grant")
    form = {k: str(data.get(k) or "")[:50] for k in ("personal_id", "role")}
    errors = _grant_errors(data)
    if errors or action not in ("grant", "revoke"):
        return await _roles_page(
            request,
            db_session,
            user,
            status_code=400,
            errors=errors or {"personal_id": BAD_ACTION},
            form=form,
        )
    grant = RoleGrantCreate.parse(data.get("personal_id"), data.get("role"))
    actor = Actor.tenant_admin(user.personal_id, address=client_address(request))
    if action == "grant":
        created = await grant_role(db_session, tenant, grant, actor=actor, sessions=sessions)
        return Redirect(
            f"/manage/roles?done={'granted' if created else 'already'}&role={grant.role}", status_code=303
        )
    try:
        if data.get("confirm") != "yes":
            await check_revoke(db_session, grant, actor=actor)
            held = [
                g
                for g in await list_grants(db_session)
                if (g.personal_id, g.role) == (grant.personal_id, grant.role)
            ]
            if not held:
                return Redirect(f"/manage/roles?done=absent&role={grant.role}", status_code=303)
            return await _roles_page(request, db_session, user, confirm=held[0])
        removed = await revoke_role(db_session, tenant, grant, actor=actor, sessions=sessions)
    except RoleChangeRefusedError as exc:
        return await _roles_page(request, db_session, user, status_code=409, errors={"grants": str(exc)})
    return Redirect(
        f"/manage/roles?done={'revoked' if removed else 'absent'}&role={grant.role}", status_code=303
    )


router = Router(
    path="/",
    route_handlers=[login, auth_callback, logout, account, manage_roles, grant_role_form],
)
