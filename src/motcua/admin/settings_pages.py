"""Tenant settings: from the console (platform administrators) and from /manage/settings
(the tenant's own administrators). Who may change which setting, and why, is written at the top
of ``admin.tenant_settings``; the pages only parse forms, call its actions and render."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response

from motcua.admin.tenant_settings import (
    IdentityForm,
    SettingsInputError,
    load_tenant,
    remove_domain,
    set_identity_provider,
    set_mail_sender,
    set_payment_account,
    settings_view,
)
from motcua.admin.tenant_settings import add_domain as add_domain_action
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.pages import FormData, HttpRequest, client_address, page, public_origin
from motcua.core.ratelimit import limited
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.identity.guards import requires_platform_admin, requires_tenant_admin
from motcua.identity.oidc import LOGIN_COOKIE, STATE_TTL, LoginError, OidcClient, TrialOutcome
from motcua.identity.services import IdentityNotConfiguredError, provider_of_tenant
from motcua.identity.sessions import UserSession

# What a saved change says on the summary page (``?saved=`` takes only these keys).
SAVED = {
    "domain_added": "Đã thêm tên miền.",
    "domain_removed": "Đã gỡ tên miền.",
    "identity": "Đã lưu nhà cung cấp định danh.",
    "payments": "Đã lưu tài khoản thanh toán.",
    "mail": "Đã lưu người gửi thư.",
}

# A test login's outcome in words, by the login error code (identity.oidc.LoginError).
TRIAL_FAILURES = {
    "unreachable": "Không kết nối được tới nhà cung cấp hoặc không đọc được tài liệu cấu hình (discovery) "
    "của nhà cung cấp. Kiểm tra địa chỉ nhà cung cấp.",
    "token": "Nhà cung cấp không cấp được mã thông báo hợp lệ.",
    "bad_secret": "Nhà cung cấp từ chối mã ứng dụng hoặc khóa bí mật (client secret sai).",
    "audience": "Mã thông báo được cấp cho một ứng dụng khác: kiểm tra mã ứng dụng (client id).",
    "personal_id": "Nhà cung cấp không trả về số định danh cá nhân hợp lệ: kiểm tra tên trường chứa số "
    "định danh và phạm vi (scopes).",
    "cancelled": "Đăng nhập thử đã bị hủy tại nhà cung cấp.",
    "provider": "Nhà cung cấp báo lỗi và không hoàn tất đăng nhập.",
    "not_configured": "Cổng chưa có nhà cung cấp định danh nào.",
    "state": "Phiên đăng nhập thử đã hết hạn; hãy thử lại.",
}


def _text(data: dict[str, Any], name: str) -> str:
    """One text field of a form; anything else (a repeated field, a file) counts as blank."""
    value = data.get(name)
    return value if isinstance(value, str) else ""


def _saved(request: HttpRequest) -> str | None:
    return SAVED.get(request.query_params.get("saved") or "")


async def _tenant_of_slug(db: Database, slug: str) -> Tenant:
    tenant = await load_tenant(db, slug)
    if tenant is None:
        raise NotFoundException("no such tenant")
    return tenant


def _platform_actor(request: HttpRequest, user: UserSession) -> Actor:
    return Actor.platform_admin(user.personal_id, address=client_address(request))


def _trial_view(outcome: TrialOutcome) -> dict[str, Any]:
    if outcome.ok:
        return {"ok": True, "masked": outcome.masked_personal_id}
    code = outcome.code
    if code == "token" and "invalid_client" in outcome.detail:
        code = "bad_secret"
    return {
        "ok": False,
        "message": TRIAL_FAILURES.get(code, TRIAL_FAILURES["provider"]),
        "detail": outcome.detail,
    }


# Console: the summary ---------------------------------------------------------------------------
@get("/tenants/{slug:str}/settings", guards=[requires_platform_admin], include_in_schema=False)
async def console_settings(
    request: HttpRequest,
    slug: FromPath[str],
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
) -> Response[str]:
    tenant = await _tenant_of_slug(db, slug)
    view = await settings_view(db, settings, tenant)
    return page(request, "admin/settings_summary.html", subject=tenant, view=view, saved=_saved(request))


# Console: domains -------------------------------------------------------------------------------
async def _domains_page(
    request: HttpRequest,
    db: Database,
    settings: Settings,
    tenant: Tenant,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[str]:
    view = await settings_view(db, settings, tenant)
    return page(
        request,
        "admin/settings_domains.html",
        status_code=status_code,
        subject=tenant,
        view=view,
        errors=errors or {},
        form=form or {},
    )


@get("/tenants/{slug:str}/settings/domains", guards=[requires_platform_admin], include_in_schema=False)
async def console_domains(
    request: HttpRequest,
    slug: FromPath[str],
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
) -> Response[str]:
    return await _domains_page(request, db, settings, await _tenant_of_slug(db, slug))


@post("/tenants/{slug:str}/settings/domains", guards=[requires_platform_admin], include_in_schema=False)
async def console_add_domain(
    request: HttpRequest,
    slug: FromPath[str],
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
    user: NamedDependency[UserSession],
    data: FormData,
) -> Response[Any]:
    tenant = await _tenant_of_slug(db, slug)
    host = _text(data, "host")
    try:
        await add_domain_action(db, settings, tenant, host, actor=_platform_actor(request, user))
    except SettingsInputError as exc:
        return await _domains_page(
            request, db, settings, tenant, errors=exc.errors, form={"host": host}, status_code=400
        )
    return Redirect(f"/tenants/{slug}/settings?saved=domain_added", status_code=303)


@get("/tenants/{slug:str}/settings/domains/remove", guards=[requires_platform_admin], include_in_schema=False)
async def console_confirm_remove_domain(
    request: HttpRequest,
    slug: FromPath[str],
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
    host: FromQuery[str] = "",
) -> Response[str]:
    tenant = await _tenant_of_slug(db, slug)
    view = await settings_view(db, settings, tenant)
    if host not in view.domains:
        raise NotFoundException("no such domain on this tenant")
    return page(request, "admin/settings_domain_remove.html", subject=tenant, host=host)


@post(
    "/tenants/{slug:str}/settings/domains/remove", guards=[requires_platform_admin], include_in_schema=False
)
async def console_remove_domain(
    request: HttpRequest,
    slug: FromPath[str],
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
    user: NamedDependency[UserSession],
    data: FormData,
) -> Response[Any]:
    tenant = await _tenant_of_slug(db, slug)
    try:
        await remove_domain(db, tenant, _text(data, "host"), actor=_platform_actor(request, user))
    except SettingsInputError as exc:
        return await _domains_page(request, db, settings, tenant, errors=exc.errors, status_code=400)
    return Redirect(f"/tenants/{slug}/settings?saved=domain_removed", status_code=303)


# Console: identity provider ---------------------------------------------------------------------
IDENTITY_FIELDS = ("issuer", "client_id", "display_name", "scopes", "personal_id_claim")


async def _identity_page(
    request: HttpRequest,
    db: Database,
    settings: Settings,
    tenant: Tenant,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    trial: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response[str]:
    view = await settings_view(db, settings, tenant)
    if form is None:
        current = view.identity if view.identity is not None and view.identity.own else None
        form = {
            "issuer": current.issuer if current else "",
            "client_id": current.client_id if current else "",
            "display_name": current.display_name if current else "VNeID",
            "scopes": current.scopes if current else "openid profile email phone address personal_id",
            "personal_id_claim": current.personal_id_claim if current else "personal_id",
        }
    return page(
        request,
        "admin/settings_identity.html",
        status_code=status_code,
        subject=tenant,
        view=view,
        errors=errors or {},
        form=form,
        trial=trial,
    )


@get("/tenants/{slug:str}/settings/identity", guards=[requires_platform_admin], include_in_schema=False)
async def console_identity(
    request: HttpRequest,
    slug: FromPath[str],
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
    oidc: NamedDependency[OidcClient],
    outcome: FromQuery[str | None] = None,
) -> Response[str]:
    tenant = await _tenant_of_slug(db, slug)
    trial = None
    if outcome is not None:
        found = await oidc.trial_outcome(outcome)
        # An outcome of another tenant's test is not shown here (nor is its existence).
        if found is not None and found.tenant == tenant.slug:
            trial = _trial_view(found)
    return await _identity_page(request, db, settings, tenant, trial=trial)


@post("/tenants/{slug:str}/settings/identity", guards=[requires_platform_admin], include_in_schema=False)
async def console_save_identity(
    request: HttpRequest,
    slug: FromPath[str],
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
    user: NamedDependency[UserSession],
    data: FormData,
) -> Response[Any]:
    tenant = await _tenant_of_slug(db, slug)
    typed = {name: _text(data, name) for name in IDENTITY_FIELDS}
    form = IdentityForm(client_secret=_text(data, "client_secret"), **typed)
    try:
        await set_identity_provider(db, settings, tenant, form, actor=_platform_actor(request, user))
    except SettingsInputError as exc:
        # The secret is never sent back, not even the one just typed.
        return await _identity_page(
            request, db, settings, tenant, errors=exc.errors, form=typed, status_code=400
        )
    return Redirect(f"/tenants/{slug}/settings?saved=identity", status_code=303)


@post(
    "/tenants/{slug:str}/settings/identity/test",
    guards=[requires_platform_admin, limited("login")],
    include_in_schema=False,
)
async def console_test_login(
    request: HttpRequest,
    slug: FromPath[str],
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
    oidc: NamedDependency[OidcClient],
) -> Response[Any]:
    """Start a real authorization against the provider the tenant's next login would use. The
    callback (identity.routes) sees a test in the state, tries everything a login checks, signs
    nobody in, and sends the browser back to the identity page with the outcome.

    The redirect URI is the console's own callback: a provider that only knows the portal's
    callback refuses it on its own page, which tells the administrator just that."""
    tenant = await _tenant_of_slug(db, slug)
    back = f"/tenants/{slug}/settings/identity"
    try:
        provider = await provider_of_tenant(db, settings, tenant.slug)
        url, browser = await oidc.begin(
            provider,
            site="console",
            redirect_uri=public_origin(request) + "/auth/callback",
            next_path=back,
            tested_tenant=tenant.slug,
        )
    except LoginError as exc:
        outcome = TrialOutcome(tenant=tenant.slug, ok=False, code=exc.code, detail=exc.detail)
        return await _identity_page(request, db, settings, tenant, trial=_trial_view(outcome))
    except IdentityNotConfiguredError:
        outcome = TrialOutcome(tenant=tenant.slug, ok=False, code="not_configured")
        return await _identity_page(request, db, settings, tenant, trial=_trial_view(outcome))
    response: Response[Any] = Redirect(url, status_code=303)
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


# Console: payment account -----------------------------------------------------------------------
async def _payments_page(
    request: HttpRequest,
    db: Database,
    settings: Settings,
    tenant: Tenant,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response[str]:
    view = await settings_view(db, settings, tenant)
    if form is None:
        form = {
            "stripe_account": view.payments.stripe_account or "",
            "enabled": view.payments.enabled,
            "platform_fee_vnd": str(view.payments.platform_fee_vnd),
        }
    return page(
        request,
        "admin/settings_payments.html",
        status_code=status_code,
        subject=tenant,
        view=view,
        errors=errors or {},
        form=form,
    )


@get("/tenants/{slug:str}/settings/payments", guards=[requires_platform_admin], include_in_schema=False)
async def console_payments(
    request: HttpRequest,
    slug: FromPath[str],
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
) -> Response[str]:
    return await _payments_page(request, db, settings, await _tenant_of_slug(db, slug))


@post("/tenants/{slug:str}/settings/payments", guards=[requires_platform_admin], include_in_schema=False)
async def console_save_payments(
    request: HttpRequest,
    slug: FromPath[str],
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
    user: NamedDependency[UserSession],
    data: FormData,
) -> Response[Any]:
    tenant = await _tenant_of_slug(db, slug)
    typed: dict[str, Any] = {
        "stripe_account": _text(data, "stripe_account"),
        "enabled": _text(data, "enabled") == "on",
        "platform_fee_vnd": _text(data, "platform_fee_vnd"),
    }
    try:
        await set_payment_account(db, tenant, **typed, actor=_platform_actor(request, user))
    except SettingsInputError as exc:
        return await _payments_page(
            request, db, settings, tenant, errors=exc.errors, form=typed, status_code=400
        )
    return Redirect(f"/tenants/{slug}/settings?saved=payments", status_code=303)


# Mail sender (console and /manage) --------------------------------------------------------------
async def _mail_page(
    request: HttpRequest,
    db: Database,
    settings: Settings,
    tenant: Tenant,
    template: str,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[str]:
    view = await settings_view(db, settings, tenant)
    if form is None:
        form = {"name": view.mail.name, "address": view.mail.address, "reply_to": view.mail.reply_to or ""}
    return page(
        request, template, status_code=status_code, subject=tenant, view=view, errors=errors or {}, form=form
    )


@get("/tenants/{slug:str}/settings/mail", guards=[requires_platform_admin], include_in_schema=False)
async def console_mail(
    request: HttpRequest,
    slug: FromPath[str],
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
) -> Response[str]:
    return await _mail_page(
        request, db, settings, await _tenant_of_slug(db, slug), "admin/settings_mail.html"
    )


@post("/tenants/{slug:str}/settings/mail", guards=[requires_platform_admin], include_in_schema=False)
async def console_save_mail(
    request: HttpRequest,
    slug: FromPath[str],
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
    user: NamedDependency[UserSession],
    data: FormData,
) -> Response[Any]:
    tenant = await _tenant_of_slug(db, slug)
    typed = {name: _text(data, name) for name in ("name", "address", "reply_to")}
    try:
        await set_mail_sender(
            db,
            settings,
            tenant,
            name=typed["name"],
            address=typed["address"],
            reply_to=typed["reply_to"],
            actor=_platform_actor(request, user),
        )
    except SettingsInputError as exc:
        return await _mail_page(
            request,
            db,
            settings,
            tenant,
            "admin/settings_mail.html",
            errors=exc.errors,
            form=typed,
            status_code=400,
        )
    return Redirect(f"/tenants/{slug}/settings?saved=mail", status_code=303)


# /manage: the tenant administrator's side -------------------------------------------------------
@get("/manage/settings", guards=[requires_tenant_admin], include_in_schema=False)
async def manage_settings(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
) -> Response[str]:
    fresh = await _tenant_of_slug(db, tenant.slug)
    view = await settings_view(db, settings, fresh)
    return page(request, "manage/settings.html", view=view, saved=_saved(request))


@get("/manage/settings/mail", guards=[requires_tenant_admin], include_in_schema=False)
async def manage_mail(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
) -> Response[str]:
    return await _mail_page(
        request, db, settings, await _tenant_of_slug(db, tenant.slug), "manage/settings_mail.html"
    )


@post("/manage/settings/mail", guards=[requires_tenant_admin], include_in_schema=False)
async def manage_save_mail(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
    user: NamedDependency[UserSession],
    data: FormData,
) -> Response[Any]:
    fresh = await _tenant_of_slug(db, tenant.slug)
    typed = {name: _text(data, name) for name in ("name", "reply_to")}
    try:
        # The sending address is not the locality's to change (see admin.tenant_settings).
        await set_mail_sender(
            db,
            settings,
            fresh,
            name=typed["name"],
            reply_to=typed["reply_to"],
            actor=Actor.tenant_admin(user.personal_id, address=client_address(request)),
        )
    except SettingsInputError as exc:
        return await _mail_page(
            request,
            db,
            settings,
            fresh,
            "manage/settings_mail.html",
            errors=exc.errors,
            form=typed,
            status_code=400,
        )
    return Redirect("/manage/settings?saved=mail", status_code=303)


CONSOLE_HANDLERS: list[HTTPRouteHandler] = [
    console_settings,
    console_domains,
    console_add_domain,
    console_confirm_remove_domain,
    console_remove_domain,
    console_identity,
    console_save_identity,
    console_test_login,
    console_payments,
    console_save_payments,
    console_mail,
    console_save_mail,
]
MANAGE_HANDLERS: list[HTTPRouteHandler] = [manage_settings, manage_mail, manage_save_mail]
