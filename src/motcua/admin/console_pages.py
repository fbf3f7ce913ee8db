"""The console home (every tenant with its live figures, searchable) and each tenant's own page:
its facts, onboarding progress, and the suspend and resume actions (confirmed, with a reason)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import anyio.to_thread
from litestar import get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import PermissionDeniedException
from litestar.handlers import HTTPRouteHandler
from litestar.params import Body
from litestar.response import Redirect, Response
from sqlalchemy import select

from motcua.admin.audit_pages import row_views
from motcua.admin.figures import PAGE_SIZE, console_listing
from motcua.admin.onboarding import STEP_LABELS, step_states
from motcua.core.audit import Actor, PlatformAudit
from motcua.core.db import Database
from motcua.core.pages import (
    FormData,
    HttpRequest,
    client_address,
    language,
    not_found_page,
    page,
    public_origin,
)
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import VIETNAM
from motcua.dossiers.models import Channel
from motcua.dossiers.services import channel_counts
from motcua.identity.guards import requires_platform_admin
from motcua.identity.models import Role
from motcua.identity.sessions import UserSession
from motcua.tenancy.models import Domain, TenantFigures, TenantKind, TenantRecord, TenantStatus
from motcua.tenancy.services import REASON_MAX, TenancyError, resume_tenant, suspend_tenant

# The words people see for the values kept in the database.
STATUS_LABELS = {
    TenantStatus.PROVISIONING: "Đang khởi tạo",
    TenantStatus.ACTIVE: "Đang hoạt động",
    TenantStatus.SUSPENDED: "Tạm ngừng",
    TenantStatus.FAILED: "Khởi tạo lỗi",
    TenantStatus.ARCHIVED: "Đã lưu trữ",
}
KIND_LABELS = {TenantKind.PROVINCE: "Tỉnh, thành phố", TenantKind.MINISTRY: "Bộ, ngành"}
QUERY_MAX = 100


def _portal_origin(request: HttpRequest, slug: str) -> str:
    """The portal's address as seen from the console's own (same scheme, port and platform
    domain: the console is ``admin.<platform domain>``)."""
    return public_origin(request).replace("//admin.", f"//{slug}.", 1)


def _actor(request: HttpRequest, user: UserSession) -> Actor:
    return Actor.platform_admin(user.personal_id, address=client_address(request))


def _labels() -> dict[str, Any]:
    return {"status_labels": STATUS_LABELS, "kind_labels": KIND_LABELS}


@get("/", name="console_home", include_in_schema=False)
async def console_home(
    request: HttpRequest, db: NamedDependency[Database], user: NamedDependency[UserSession | None]
) -> Response[str]:
    if user is None:
        return page(request, "admin/console.html", listing=None)
    if not user.has(Role.PLATFORM_ADMIN):
        raise PermissionDeniedException("platform administrators only")
    params = request.query_params
    query = " ".join(str(params.get("q") or "").split())[:QUERY_MAX]
    status = str(params.get("status") or "")
    kind = str(params.get("kind") or "")
    status = status if status in STATUS_LABELS else ""
    kind = kind if kind in KIND_LABELS else ""
    try:
        page_number = max(1, min(int(str(params.get("page") or 1)), 10_000))
    except ValueError:
        page_number = 1
    async with db.engine.connect() as conn:
        listing = await console_listing(conn, query=query, status=status, kind=kind, page=page_number)
    return page(
        request,
        "admin/console.html",
        listing=listing,
        filters={"q": query, "status": status, "kind": kind},
        page_number=page_number,
        page_size=PAGE_SIZE,
        portal_origin=lambda slug: _portal_origin(request, slug),
        **_labels(),
    )


async def _tenant_facts(db: Database, slug: str) -> dict[str, Any] | None:
    async with db.platform_session() as session:
        record = await session.scalar(select(TenantRecord).where(TenantRecord.slug == slug))
        if record is None:
            return None
        domains = (
            await session.scalars(
                select(Domain.host).where(Domain.tenant_id == record.id).order_by(Domain.host)
            )
        ).all()
        figures = await session.scalar(select(TenantFigures).where(TenantFigures.tenant_id == record.id))
        activity = (
            await session.scalars(
                select(PlatformAudit)
                .where(PlatformAudit.tenant_slug == slug)
                .order_by(PlatformAudit.id.desc())
                .limit(10)
            )
        ).all()
    return {"record": record, "domains": domains, "figures": figures, "activity": activity}


SERVED = (TenantStatus.ACTIVE, TenantStatus.SUSPENDED, TenantStatus.ARCHIVED)


async def _month_by_channel(db: Database, tenant: Tenant) -> list[tuple[str, int, int]]:
    """This month's dossiers by channel (Vietnam time): (channel, by the citizen personally, on
    their behalf) — what the indicators count."""
    now = datetime.now(VIETNAM)
    since = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    async with db.tenant_session(tenant) as session:
        counts = await channel_counts(session, since, now + timedelta(seconds=1))
    return [(channel.label, counts[(channel, True)], counts[(channel, False)]) for channel in Channel]


@get("/tenants/{slug:str}", name="console_tenant", guards=[requires_platform_admin], include_in_schema=False)
async def tenant_page(request: HttpRequest, db: NamedDependency[Database], slug: str) -> Response[str]:
    facts = await _tenant_facts(db, slug[:31])
    if facts is None:
        return not_found_page(request, "Không có địa phương này trên nền tảng.")
    record = facts["record"]
    async with db.engine.connect() as conn:
        activity = await row_views(conn, facts.pop("activity"), {record.slug: record.name}, language(request))
    channels = await _month_by_channel(db, Tenant.from_row(record)) if record.status in SERVED else None
    return page(
        request,
        "admin/tenant.html",
        activity=activity,
        channels=channels,
        **facts,
        steps=step_states(record.status, record.onboarding_step, record.failure_reason),
        step_labels=STEP_LABELS,
        portal=_portal_origin(request, record.slug),
        message=str(request.query_params.get("done") or ""),
        **_labels(),
    )


@get(
    "/tenants/{slug:str}/progress",
    name="console_tenant_progress",
    guards=[requires_platform_admin],
    include_in_schema=False,
)
async def tenant_progress(request: HttpRequest, db: NamedDependency[Database], slug: str) -> Response[str]:
    """The onboarding steps alone, polled by the tenant page while onboarding runs (htmx)."""
    async with db.platform_session() as session:
        record = await session.scalar(select(TenantRecord).where(TenantRecord.slug == slug[:31]))
    if record is None:
        return not_found_page(request, "Không có địa phương này trên nền tảng.")
    return page(
        request,
        "admin/_progress.html",
        record=record,
        steps=step_states(record.status, record.onboarding_step, record.failure_reason),
        step_labels=STEP_LABELS,
        portal=_portal_origin(request, record.slug),
        **_labels(),
    )


# Suspend and resume: a confirmation page, then the action --------------------------------------
def _action_of(request: HttpRequest) -> str:
    return request.url.path.rsplit("/", 1)[-1]


_ACTION_PATHS = ["/tenants/{slug:str}/suspend", "/tenants/{slug:str}/resume"]


@get(_ACTION_PATHS, name="console_tenant_confirm", guards=[requires_platform_admin], include_in_schema=False)
async def confirm_action(request: HttpRequest, db: NamedDependency[Database], slug: str) -> Response[str]:
    action = _action_of(request)
    facts = await _tenant_facts(db, slug[:31])
    if facts is None:
        return not_found_page(request, "Không có địa phương này trên nền tảng.")
    return page(request, "admin/tenant_confirm.html", action=action, form={}, errors={}, **facts, **_labels())


@post(
    _ACTION_PATHS,
    name="console_tenant_act",
    guards=[requires_platform_admin],
    include_in_schema=False,
    status_code=303,
)
async def tenant_action(
    request: HttpRequest,
    db: NamedDependency[Database],
    user: NamedDependency[UserSession],
    slug: str,
    data: Annotated[FormData, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    action = _action_of(request)
    facts = await _tenant_facts(db, slug[:31])
    if facts is None:
        return not_found_page(request, "Không có địa phương này trên nền tảng.")
    reason = " ".join(str(data.get("reason") or "").split())
    errors: dict[str, str] = {}
    status_code = 400  # what was typed must be fixed; 409 when the portal is not in a state to act
    if action == "suspend" and not reason:
        errors["reason"] = "Nhập lý do tạm ngừng: người dân sẽ thấy lý do này trên cổng."
    elif len(reason) > REASON_MAX:
        errors["reason"] = "Lý do dài tối đa 500 ký tự."
    if not errors:
        engine = db.blocking
        try:
            if action == "suspend":
                await anyio.to_thread.run_sync(
                    lambda: suspend_tenant(engine, slug, actor=_actor(request, user), reason=reason)
                )
            else:
                await anyio.to_thread.run_sync(
                    lambda: resume_tenant(engine, slug, actor=_actor(request, user))
                )
        except TenancyError:
            status_code = 409
            errors["reason"] = (
                "Không thể tạm ngừng: cổng không ở trạng thái đang hoạt động."
                if action == "suspend"
                else "Không thể mở lại: cổng không ở trạng thái tạm ngừng."
            )
    if errors:
        return page(
            request,
            "admin/tenant_confirm.html",
            status_code=status_code,
            action=action,
            form={"reason": reason},
            errors=errors,
            **facts,
            **_labels(),
        )
    return Redirect(f"/tenants/{slug}?done={action}", status_code=303)


CONSOLE_HANDLERS: list[HTTPRouteHandler] = [
    console_home,
    tenant_page,
    tenant_progress,
    confirm_action,
    tenant_action,
]
MANAGE_HANDLERS: list[HTTPRouteHandler] = []
