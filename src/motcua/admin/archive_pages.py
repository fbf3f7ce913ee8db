"""Archive, export, restore and delete of a tenant from the console: each a confirmation page,
then the action of ``admin.archive`` (run in a worker thread: they take a blocking engine, as
the command line does), audited with the administrator and their address."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from litestar import get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.params import Body, FromPath
from litestar.response import File, Redirect, Response

from motcua.admin.archive import (
    EXPORT_STATUS_LABELS,
    ArchiveError,
    delete_tenant,
    deletion_facts,
    export_path,
    list_exports,
    request_export,
    restore_tenant,
    stored_exports,
    tenant_record,
)
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.pages import FormData, HttpRequest, client_address, not_found_page, page
from motcua.core.settings import Settings
from motcua.identity.guards import requires_platform_admin
from motcua.identity.sessions import UserSession
from motcua.tenancy.models import TenantStatus
from motcua.tenancy.services import REASON_MAX, TenancyError, archive_tenant, platform_audit

Form = Annotated[FormData, Body(media_type=RequestEncodingType.URL_ENCODED)]
T = TypeVar("T")

# The words people see for the statuses kept in the database.
STATUS_LABELS = {
    TenantStatus.PROVISIONING: "Đang khởi tạo",
    TenantStatus.ACTIVE: "Đang hoạt động",
    TenantStatus.SUSPENDED: "Tạm ngừng",
    TenantStatus.FAILED: "Khởi tạo lỗi",
    TenantStatus.ARCHIVED: "Đã lưu trữ",
}
MESSAGES = {
    "unknown": "Không có địa phương này trên nền tảng.",
    "reason": "Nhập lý do lưu trữ: người dân sẽ thấy lý do này trên mọi trang của cổng.",
    "reason_long": "Lý do dài tối đa 500 ký tự.",
    "not_archivable": "Không lưu trữ được: cổng đang khởi tạo hoặc khởi tạo lỗi.",
    "pick_archive": "Chọn một bản xuất để khôi phục.",
    "slug_long": "Mã địa phương dài tối đa 31 ký tự.",
    "name_long": "Tên địa phương dài tối đa 200 ký tự.",
    "confirmation_long": "Mã xác nhận dài tối đa 100 ký tự.",
}
FIELD_MAX = 200


def _problem(key: str) -> dict[str, Any]:
    return {"message": MESSAGES[key], "params": {}}


def _actor(request: HttpRequest, user: UserSession) -> Actor:
    return Actor.platform_admin(user.personal_id, address=client_address(request))


async def _blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs))


def _text(data: FormData, name: str, limit: int = FIELD_MAX) -> str:
    """A form field as one line of text, cut at a bound far above any valid value (the
    length check that follows then reports it)."""
    return " ".join(str(data.get(name) or "").split())[: limit + 1]


async def _record(db: Database, slug: str) -> Any:
    try:
        return await _blocking(tenant_record, db.blocking, slug[:31])
    except ArchiveError:
        return None


def _labels() -> dict[str, Any]:
    return {"status_labels": STATUS_LABELS, "export_labels": EXPORT_STATUS_LABELS}


# Archive -------------------------------------------------------------------------------------
@get(
    "/tenants/{slug:str}/archive",
    name="console_archive",
    guards=[requires_platform_admin],
    include_in_schema=False,
)
async def archive_page(
    request: HttpRequest,
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
    slug: FromPath[str],
) -> Response[str]:
    record = await _record(db, slug)
    if record is None:
        return not_found_page(request, MESSAGES["unknown"])
    return page(
        request,
        "admin/archive_confirm.html",
        record=record,
        form={},
        errors={},
        grace_days=settings.tenant_delete_grace_days,
        **_labels(),
    )


@post(
    "/tenants/{slug:str}/archive",
    name="console_archive_act",
    guards=[requires_platform_admin],
    include_in_schema=False,
)
async def archive_action(
    request: HttpRequest,
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
    user: NamedDependency[UserSession],
    slug: FromPath[str],
    data: Form,
) -> Response[Any]:
    record = await _record(db, slug)
    if record is None:
        return not_found_page(request, MESSAGES["unknown"])
    reason = _text(data, "reason", REASON_MAX)
    errors: dict[str, Any] = {}
    status = 400
    if not reason:
        errors["reason"] = _problem("reason")
    elif len(reason) > REASON_MAX:
        errors["reason"] = _problem("reason_long")
    else:
        try:
            await _blocking(
                archive_tenant, db.blocking, record.slug, actor=_actor(request, user), reason=reason
            )
        except TenancyError:
            errors["state"], status = _problem("not_archivable"), 409
    if errors:
        return page(
            request,
            "admin/archive_confirm.html",
            status_code=status,
            record=record,
            form={"reason": reason},
            errors=errors,
            grace_days=settings.tenant_delete_grace_days,
            **_labels(),
        )
    return Redirect(f"/tenants/{record.slug}?done=archive", status_code=303)


# Exports -------------------------------------------------------------------------------------
@get(
    "/tenants/{slug:str}/exports",
    name="console_exports",
    guards=[requires_platform_admin],
    include_in_schema=False,
)
async def exports_page(
    request: HttpRequest,
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
    slug: FromPath[str],
) -> Response[str]:
    record = await _record(db, slug)
    if record is None:
        return not_found_page(request, MESSAGES["unknown"])
    exports = await _blocking(list_exports, db.blocking, settings, record.slug)
    return page(
        request,
        "admin/archive_exports.html",
        record=record,
        exports=exports,
        busy=any(e.status in ("queued", "running") for e in exports),
        **_labels(),
    )


@post(
    "/tenants/{slug:str}/exports",
    name="console_exports_start",
    guards=[requires_platform_admin],
    include_in_schema=False,
)
async def start_export(
    request: HttpRequest,
    db: NamedDependency[Database],
    user: NamedDependency[UserSession],
    slug: FromPath[str],
) -> Response[Any]:
    record = await _record(db, slug)
    if record is None:
        return not_found_page(request, MESSAGES["unknown"])
    await _blocking(request_export, db.blocking, record.slug, actor=_actor(request, user))
    return Redirect(f"/tenants/{record.slug}/exports", status_code=303)


def _record_download(db: Database, slug: str, name: str, actor: Actor) -> None:
    with db.blocking.begin() as conn:
        platform_audit(conn, "tenant.export_downloaded", slug, actor=actor, export=name)


@get(
    "/tenants/{slug:str}/exports/{name:str}/download",
    name="console_export_download",
    guards=[requires_platform_admin],
    include_in_schema=False,
)
async def download_export(
    request: HttpRequest,
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
    user: NamedDependency[UserSession],
    slug: FromPath[str],
    name: FromPath[str],
) -> Response[Any]:
    try:
        path = await _blocking(export_path, settings, slug[:31], name[:40])
    except ArchiveError:
        return not_found_page(request, "Không có bản xuất này.")
    # Who took a copy of a locality's personal data, and when, is on the record.
    await _blocking(_record_download, db, slug, name, _actor(request, user))
    return File(
        path,
        filename=f"{slug}-{name}.tar",
        media_type="application/x-tar",
        content_disposition_type="attachment",
        headers={"cache-control": "no-store"},
    )


# Restore -------------------------------------------------------------------------------------
def _restore_page(
    request: HttpRequest,
    settings: Settings,
    *,
    form: dict[str, str],
    errors: dict[str, Any],
    status_code: int = 200,
) -> Response[str]:
    return page(
        request,
        "admin/archive_restore.html",
        status_code=status_code,
        archives=stored_exports(settings),
        form=form,
        errors=errors,
    )


@get("/restore", name="console_restore", guards=[requires_platform_admin], include_in_schema=False)
async def restore_page(request: HttpRequest, settings: NamedDependency[Settings]) -> Response[str]:
    chosen = str(request.query_params.get("archive") or "")[:80]
    return _restore_page(request, settings, form={"archive": chosen}, errors={})


@post("/restore", name="console_restore_act", guards=[requires_platform_admin], include_in_schema=False)
async def restore_action(
    request: HttpRequest,
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
    user: NamedDependency[UserSession],
    data: Form,
) -> Response[Any]:
    form = {"archive": _text(data, "archive", 80), "slug": _text(data, "slug"), "name": _text(data, "name")}
    errors: dict[str, Any] = {}
    if not form["archive"]:
        errors["archive"] = _problem("pick_archive")
    if len(form["slug"]) > 31:
        errors["slug"] = _problem("slug_long")
    if len(form["name"]) > 200:
        errors["name"] = _problem("name_long")
    status = 400
    if not errors:
        source_slug, _sep, name = form["archive"].partition("/")
        try:
            path = await _blocking(export_path, settings, source_slug, name)
            tenant = await _blocking(
                restore_tenant,
                db.blocking,
                settings,
                path,
                form["slug"],
                actor=_actor(request, user),
                name=form["name"] or None,
            )
        except ArchiveError as exc:
            errors[exc.field or "state"] = exc.as_problem()
            status = 400 if exc.field else 409
        else:
            return Redirect(f"/tenants/{tenant.slug}?done=restore", status_code=303)
    return _restore_page(request, settings, form=form, errors=errors, status_code=status)


# Delete --------------------------------------------------------------------------------------
async def _delete_page(
    request: HttpRequest,
    db: Database,
    settings: Settings,
    slug: str,
    *,
    form: dict[str, str],
    errors: dict[str, Any],
    status_code: int = 200,
) -> Response[str]:
    try:
        facts = await _blocking(deletion_facts, db.blocking, settings, slug[:31])
    except ArchiveError:
        return not_found_page(request, MESSAGES["unknown"])
    return page(
        request,
        "admin/archive_delete.html",
        status_code=status_code,
        form=form,
        errors=errors,
        grace_days=settings.tenant_delete_grace_days,
        **facts,
        **_labels(),
    )


@get(
    "/tenants/{slug:str}/delete",
    name="console_delete",
    guards=[requires_platform_admin],
    include_in_schema=False,
)
async def delete_page(
    request: HttpRequest,
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
    slug: FromPath[str],
) -> Response[str]:
    return await _delete_page(request, db, settings, slug, form={}, errors={})


@post(
    "/tenants/{slug:str}/delete",
    name="console_delete_act",
    guards=[requires_platform_admin],
    include_in_schema=False,
)
async def delete_action(
    request: HttpRequest,
    db: NamedDependency[Database],
    settings: NamedDependency[Settings],
    user: NamedDependency[UserSession],
    slug: FromPath[str],
    data: Form,
) -> Response[Any]:
    record = await _record(db, slug)
    if record is None:
        return not_found_page(request, MESSAGES["unknown"])
    confirmation = _text(data, "confirmation", 100)
    errors: dict[str, Any] = {}
    status = 400
    if len(confirmation) > 100:
        errors["confirmation"] = _problem("confirmation_long")
    else:
        try:
            await _blocking(
                delete_tenant,
                db.blocking,
                settings,
                record.slug,
                actor=_actor(request, user),
                confirmation=confirmation,
            )
        except ArchiveError as exc:
            errors[exc.field or "state"] = exc.as_problem()
            status = 400 if exc.field else 409
        else:
            return Redirect(f"/?deleted={record.slug}", status_code=303)
    return await _delete_page(
        request, db, settings, slug, form={"confirmation": confirmation}, errors=errors, status_code=status
    )


CONSOLE_HANDLERS: list[HTTPRouteHandler] = [
    archive_page,
    archive_action,
    exports_page,
    start_export,
    download_export,
    restore_page,
    restore_action,
    delete_page,
    delete_action,
]
MANAGE_HANDLERS: list[HTTPRouteHandler] = []
