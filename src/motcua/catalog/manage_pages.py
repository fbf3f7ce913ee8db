"""/manage/catalog: the tenant administrators' catalogue — list, add, edit, publish and
unpublish procedures, their versioned form with a live preview, document templates, imports.

Every form is checked by ``ProcedureSpec.parse`` (the same rules as the catalogue files); a
refused form comes back with the error summary, what was typed, a 400 and nothing changed.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Annotated, Any, Protocol

from litestar import Router, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler, HTTPRouteHandler
from litestar.params import Body, FromPath, FromQuery, QueryParameter, SkipValidation
from litestar.response import Redirect, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.editing import (
    KEY_LABELS,
    TEMPLATE_MAX_BYTES,
    CatalogError,
    ImportPlan,
    add_procedure,
    attach_template,
    check_template,
    edit_procedure,
    existing_specs,
    form_versions,
    import_procedures,
    plan_import,
    remove_template,
    save_form,
    set_published,
    spec_of,
)
from motcua.catalog.imports import (
    COLUMNS,
    CSV_MAX_BYTES,
    Parsed,
    RowError,
    parse_csv,
    parse_shared,
    shared_files,
)
from motcua.catalog.models import (
    CHANNEL_LABELS,
    DOCUMENT_KINDS,
    PUBLICATION_LABELS,
    UNIT_LABELS,
    Procedure,
    ProcedureLevel,
)
from motcua.catalog.schemas import (
    CHANNELS,
    FIELD_TYPES,
    PREFILL_CLAIMS,
    Issue,
    ProcedureSpec,
    ProcedureSpecError,
    check_fields,
)
from motcua.catalog.services import get_procedure
from motcua.catalog.text import fold
from motcua.core.audit import Actor
from motcua.core.dependencies import user_of
from motcua.core.digits import only_digits
from motcua.core.pages import FormData, HttpRequest, client_address, not_found_page, page
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant

BASE = "/manage/catalog"
PER_PAGE = 50
MAX_GROUP_ROWS = 50
DONE = {
    "added": "Đã thêm thủ tục. Thủ tục chưa được công bố: kiểm tra lại rồi công bố khi sẵn sàng.",
    "edited": "Đã lưu thay đổi.",
    "unchanged": "Không có thay đổi nào để lưu.",
    "published": "Đã công bố thủ tục: người dân thấy thủ tục trên cổng.",
    "unpublished": "Đã ngừng công bố thủ tục: thủ tục không còn hiện trên cổng.",
    "form_versioned": "Đã công bố phiên bản biểu mẫu mới. Hồ sơ đang khai dở vẫn dùng phiên bản cũ.",
    "form_unchanged": "Biểu mẫu không thay đổi nên không tạo phiên bản mới.",
    "template_attached": "Đã tải lên mẫu giấy tờ.",
    "template_removed": "Đã gỡ mẫu giấy tờ.",
    "imported": "Đã nhập danh mục.",
}
STATES = {"published": True, "unpublished": False}
MultiPart = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
_GROUP_KEY = re.compile(r"^(fees|documents)-(\d{1,3})-([a-z_]+)$")


class Staff(Protocol):
    """The signed-in person as these pages use them (identity's ``UserSession``: catalog sits
    beside identity and does not import it)."""

    personal_id: str

    def has(self, role: str) -> bool: ...


# Injected unvalidated: a Protocol cannot be checked with isinstance by the signature model.
User = NamedDependency[SkipValidation[Staff]]
Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]


def _tenant_admin_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Fails closed even if these handlers were ever mounted without identity's guard (which
    ``manage_router`` puts in front of them)."""
    user = user_of(connection)
    if user is None:
        raise NotAuthorizedException("login required")
    if not callable(getattr(user, "has", None)) or not user.has("tenant_admin"):
        raise PermissionDeniedException("requires tenant_admin")


def _actor(request: HttpRequest, user: Staff) -> Actor:
    return Actor.tenant_admin(user.personal_id, address=client_address(request))


def _text(data: dict[str, Any], key: str, limit: int = 10_000) -> str:
    value = data.get(key, "")
    if isinstance(value, list):  # a repeated key: the last one wins, as in a browser's form
        value = value[-1] if value else ""
    return str(value)[:limit].strip() if not isinstance(value, UploadFile) else ""


def _number(value: str) -> int | str:
    compact = value.replace(".", "").replace(" ", "")
    return int(compact) if only_digits(compact) and len(compact) <= 15 else value


def _done(key: str | None) -> str | None:
    return DONE.get(key or "")


def _common() -> dict[str, Any]:
    return {
        "levels": [(lv.value, lv.label) for lv in ProcedureLevel],
        "units": UNIT_LABELS,
        "channel_labels": CHANNEL_LABELS,
        "channels": CHANNELS,
        "document_kinds": DOCUMENT_KINDS,
        "key_labels": KEY_LABELS,
        "states": PUBLICATION_LABELS,
    }


# The procedure form ---------------------------------------------------------------------------------
def raw_from_form(data: dict[str, Any]) -> dict[str, Any]:
    """The dictionary ``ProcedureSpec.parse`` reads, from the procedure form (values as typed
    where they are not numbers, so the errors name them and the form shows them again)."""
    raw: dict[str, Any] = {
        key: _text(data, key)
        for key in (
            "code",
            "name",
            "field",
            "agency",
            "agency_code",
            "level",
            "processing_unit",
            "description",
        )
    }
    raw["processing_days"] = _number(_text(data, "processing_days") or "0")
    if fee_vnd := _text(data, "fee_vnd"):
        raw["fee_vnd"] = _number(fee_vnd)
    channels = []
    for kind in CHANNELS:
        if _text(data, f"channel-{kind}"):
            days = _text(data, f"channel-{kind}-days")
            channels.append(
                {
                    "kind": kind,
                    "days": _number(days) if days else raw["processing_days"],
                    "unit": _text(data, f"channel-{kind}-unit") or raw["processing_unit"],
                }
            )
    raw["channels"] = channels
    rows: dict[str, dict[int, dict[str, str]]] = {"fees": {}, "documents": {}}
    for key in data:
        match = _GROUP_KEY.match(str(key))
        if match and int(match[2]) < MAX_GROUP_ROWS * 2:
            rows[match[1]].setdefault(int(match[2]), {})[match[3]] = _text(data, key, 600)
    fees = []
    for _, row in sorted(rows["fees"].items()):
        if any(row.get(k) for k in ("name", "amount_vnd", "exempt")):  # blank rows are spare ones
            fee: dict[str, Any] = {
                "name": row.get("name", ""),
                "amount_vnd": _number(row.get("amount_vnd") or "0"),
            }
            if row.get("exempt"):
                fee["exempt"] = row["exempt"]
            fees.append(fee)
    raw["fees"] = fees
    documents = []
    for _, row in sorted(rows["documents"].items()):
        if any(row.get(k) for k in ("code", "name")):
            documents.append(
                {
                    "code": row.get("code", ""),
                    "name": row.get("name", ""),
                    "kind": row.get("kind") or "original",
                    "copies": _number(row.get("copies") or "1"),
                    "required": bool(row.get("required")),
                }
            )
    raw["documents"] = documents
    for key in ("results", "legal_basis"):
        raw[key] = [line.strip() for line in _text(data, key).splitlines() if line.strip()]
    return raw


def _anchors(raw: dict[str, Any], issues: list[Issue]) -> list[tuple[str, Issue]]:
    """Each issue with the id of the control it is about (channels are shown per kind)."""
    anchored = []
    for issue in issues:
        anchor = issue.anchor
        if issue.key == "channels":
            kinds = [c.get("kind") for c in raw.get("channels", []) if isinstance(c, dict)]
            kind = kinds[issue.item] if issue.item is not None and issue.item < len(kinds) else "online"
            anchor = f"channel-{kind}-{issue.part}" if issue.part in ("days", "unit") else f"channel-{kind}"
        elif issue.key in ("results", "legal_basis"):  # one textarea, a line per item
            anchor = issue.key
        anchored.append((anchor, issue))
    return anchored


def _procedure_form(
    request: HttpRequest,
    raw: dict[str, Any],
    *,
    procedure: Procedure | None,
    issues: list[Issue] | None = None,
    more: str = "",
    status_code: int = 200,
) -> Response[str]:
    anchored = _anchors(raw, issues or [])
    return page(
        request,
        "catalog/manage_edit.html",
        status_code=status_code,
        procedure=procedure,
        form=raw,
        issues=anchored,
        errors={anchor: issue.message for anchor, issue in reversed(anchored)},
        channels_by_kind={
            c["kind"]: c for c in raw.get("channels", []) if isinstance(c, dict) and "kind" in c
        },
        spare_fees=2 if more == "fees" else 1,
        spare_documents=2 if more == "documents" else 1,
        **_common(),
    )


# List and one procedure -------------------------------------------------------------------------------
@get(BASE, name="manage_catalog", guards=[_tenant_admin_only], include_in_schema=False)
async def catalog_list(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    q: FromQuery[str | None] = None,
    # "state" is a name Litestar reserves for the app state: the query parameter is renamed.
    state_filter: Annotated[str | None, QueryParameter(name="state")] = None,
    done: FromQuery[str | None] = None,
    added: FromQuery[int | None] = None,
    changed: FromQuery[int | None] = None,
    page_number: Annotated[int | None, QueryParameter(name="page")] = None,
) -> Response[str]:
    query = select(Procedure).order_by(Procedure.field, Procedure.name)
    state = state_filter
    if state in STATES:
        query = query.where(Procedure.published.is_(STATES[state]))
    procedures = list((await db_session.scalars(query)).all())
    terms = fold((q or "")[:200]).split()
    if terms:
        procedures = [p for p in procedures if all(t in p.search_text for t in terms)]
    pages = max(1, -(-len(procedures) // PER_PAGE))
    current = min(max(1, page_number or 1), pages)
    return page(
        request,
        "catalog/manage_list.html",
        procedures=procedures[(current - 1) * PER_PAGE : current * PER_PAGE],
        total=len(procedures),
        page_number=current,
        pages=pages,
        q=(q or "")[:200],
        state=state if state in STATES else "",
        done=_done(done),
        imported=(added or 0, changed or 0) if done == "imported" else None,
        **_common(),
    )


async def _procedure(session: AsyncSession, code: str) -> Procedure | None:
    return await get_procedure(session, code[:60], published_only=False)


def _missing(request: HttpRequest, _code: str) -> Response[str]:
    return not_found_page(request, "Không có thủ tục này trong danh mục của cổng.")


@get(BASE + "/{code:str}", name="manage_procedure", guards=[_tenant_admin_only], include_in_schema=False)
async def procedure_detail(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    code: FromPath[str],
    done: FromQuery[str | None] = None,
) -> Response[str]:
    procedure = await _procedure(db_session, code)
    if procedure is None:
        return _missing(request, code)
    return await _detail(request, db_session, procedure, done=_done(done))


async def _detail(
    request: HttpRequest,
    session: AsyncSession,
    procedure: Procedure,
    *,
    done: str | None = None,
    upload_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[str]:
    return page(
        request,
        "catalog/manage_detail.html",
        status_code=status_code,
        procedure=procedure,
        versions=await form_versions(session, procedure.id),
        done=done,
        upload_errors=upload_errors or {},
        template_max_mb=TEMPLATE_MAX_BYTES // (1024 * 1024),
        **_common(),
    )


# Add and edit -----------------------------------------------------------------------------------------
@get(BASE + "/new", name="manage_procedure_new", guards=[_tenant_admin_only], include_in_schema=False)
async def new_form(request: HttpRequest) -> Response[str]:
    raw = {
        "level": "partial",
        "processing_unit": "working_days",
        "processing_days": 0,
        "fees": [],
        "documents": [],
    }
    return _procedure_form(request, raw, procedure=None)


@post(BASE + "/new", guards=[_tenant_admin_only], include_in_schema=False, status_code=303)
async def new_submit(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: User,
    data: FormData,
) -> Response[Any]:
    raw = raw_from_form(data)
    more = _text(data, "more")
    if more:
        return _procedure_form(request, raw, procedure=None, more=more)
    try:
        spec = ProcedureSpec.parse(raw, "form")
        await add_procedure(db_session, tenant, spec, actor=_actor(request, user))
    except (ProcedureSpecError, CatalogError) as exc:
        return _procedure_form(request, raw, procedure=None, issues=exc.issues, status_code=400)
    return Redirect(f"{BASE}/{spec.code}?done=added", status_code=303)


@get(
    BASE + "/{code:str}/edit",
    name="manage_procedure_edit",
    guards=[_tenant_admin_only],
    include_in_schema=False,
)
async def edit_form(
    request: HttpRequest, db_session: NamedDependency[AsyncSession], code: FromPath[str]
) -> Response[str]:
    procedure = await _procedure(db_session, code)
    if procedure is None:
        return _missing(request, code)
    return _procedure_form(request, spec_of(procedure).as_raw(), procedure=procedure)


@post(BASE + "/{code:str}/edit", guards=[_tenant_admin_only], include_in_schema=False, status_code=303)
async def edit_submit(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: User,
    code: FromPath[str],
    data: FormData,
) -> Response[Any]:
    procedure = await _procedure(db_session, code)
    if procedure is None:
        return _missing(request, code)
    # The code is the procedure's identity (files, imports, dossier codes): never edited here.
    raw = {**raw_from_form(data), "code": procedure.code}
    more = _text(data, "more")
    if more:
        return _procedure_form(request, raw, procedure=procedure, more=more)
    try:
        spec = ProcedureSpec.parse({**raw, "fields": procedure.form_fields}, procedure.code)
        keys = await edit_procedure(db_session, tenant, procedure.code, spec, actor=_actor(request, user))
    except (ProcedureSpecError, CatalogError) as exc:
        return _procedure_form(request, raw, procedure=procedure, issues=exc.issues, status_code=400)
    return Redirect(f"{BASE}/{procedure.code}?done={'edited' if keys else 'unchanged'}", status_code=303)


# Publish and unpublish --------------------------------------------------------------------------------
def _confirm(request: HttpRequest, procedure: Procedure, publish: bool) -> Response[str]:
    return page(request, "catalog/manage_confirm.html", procedure=procedure, publish=publish)


@get(BASE + "/{code:str}/publish", guards=[_tenant_admin_only], include_in_schema=False)
async def publish_confirm(
    request: HttpRequest, db_session: NamedDependency[AsyncSession], code: FromPath[str]
) -> Response[str]:
    procedure = await _procedure(db_session, code)
    return _missing(request, code) if procedure is None else _confirm(request, procedure, True)


@get(BASE + "/{code:str}/unpublish", guards=[_tenant_admin_only], include_in_schema=False)
async def unpublish_confirm(
    request: HttpRequest, db_session: NamedDependency[AsyncSession], code: FromPath[str]
) -> Response[str]:
    procedure = await _procedure(db_session, code)
    return _missing(request, code) if procedure is None else _confirm(request, procedure, False)


async def _set(
    request: HttpRequest, tenant: Tenant, session: AsyncSession, user: Staff, code: str, publish: bool
) -> Response[Any]:
    procedure = await _procedure(session, code)
    if procedure is None:
        return _missing(request, code)
    await set_published(session, tenant, procedure.code, publish, actor=_actor(request, user))
    return Redirect(
        f"{BASE}/{procedure.code}?done={'published' if publish else 'unpublished'}", status_code=303
    )


@post(BASE + "/{code:str}/publish", guards=[_tenant_admin_only], include_in_schema=False, status_code=303)
async def publish(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: User,
    code: FromPath[str],
) -> Response[Any]:
    return await _set(request, tenant, db_session, user, code, True)


@post(BASE + "/{code:str}/unpublish", guards=[_tenant_admin_only], include_in_schema=False, status_code=303)
async def unpublish(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: User,
    code: FromPath[str],
) -> Response[Any]:
    return await _set(request, tenant, db_session, user, code, False)


# The form definition, versioned -----------------------------------------------------------------------
def parse_definition(text: str) -> tuple[list[dict[str, Any]] | None, list[Issue], tuple[int, int] | None]:
    """The form definition typed on the page (a JSON list of fields): the fields, or the issues
    (and where the JSON broke, as line and column)."""
    try:
        fields = json.loads(text or "[]")
    except json.JSONDecodeError as exc:
        return (
            None,
            [Issue("definition", "Định nghĩa biểu mẫu không phải JSON hợp lệ.")],
            (exc.lineno, exc.colno),
        )
    issues = check_fields(fields)
    return (fields if not issues else None), issues, None


def _form_page(
    request: HttpRequest,
    procedure: Procedure,
    versions: list[Any],
    text: str,
    *,
    fields: list[dict[str, Any]] | None,
    issues: list[Issue],
    broken_at: tuple[int, int] | None,
    status_code: int = 200,
    done: str | None = None,
) -> Response[str]:
    return page(
        request,
        "catalog/manage_form.html",
        status_code=status_code,
        procedure=procedure,
        versions=versions,
        definition=text,
        fields=fields or [],
        issues=issues,
        broken_at=broken_at,
        done=done,
        field_types=FIELD_TYPES,
        prefill_claims=PREFILL_CLAIMS,
    )


@get(
    BASE + "/{code:str}/form",
    name="manage_procedure_form",
    guards=[_tenant_admin_only],
    include_in_schema=False,
)
async def form_editor(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    code: FromPath[str],
    done: FromQuery[str | None] = None,
) -> Response[str]:
    procedure = await _procedure(db_session, code)
    if procedure is None:
        return _missing(request, code)
    text = json.dumps(procedure.form_fields, ensure_ascii=False, indent=2)
    return _form_page(
        request,
        procedure,
        await form_versions(db_session, procedure.id),
        text,
        fields=procedure.form_fields,
        issues=[],
        broken_at=None,
        done=_done(done),
    )


@post(
    BASE + "/{code:str}/form/preview",
    guards=[_tenant_admin_only],
    include_in_schema=False,
    status_code=200,
)
async def form_preview(request: HttpRequest, data: FormData) -> Response[str]:
    """htmx: the form as citizens will see it, or why it cannot be shown."""
    fields, issues, broken_at = parse_definition(_text(data, "definition", 200_000))
    return page(
        request, "catalog/manage_form_preview.html", fields=fields or [], issues=issues, broken_at=broken_at
    )


@post(BASE + "/{code:str}/form", guards=[_tenant_admin_only], include_in_schema=False, status_code=303)
async def form_save(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: User,
    code: FromPath[str],
    data: FormData,
) -> Response[Any]:
    procedure = await _procedure(db_session, code)
    if procedure is None:
        return _missing(request, code)
    text = _text(data, "definition", 200_000)
    fields, issues, broken_at = parse_definition(text)
    if fields is None:
        return _form_page(
            request,
            procedure,
            await form_versions(db_session, procedure.id),
            text,
            fields=None,
            issues=issues,
            broken_at=broken_at,
            status_code=400,
        )
    version = await save_form(db_session, tenant, procedure.code, fields, actor=_actor(request, user))
    return Redirect(
        f"{BASE}/{procedure.code}/form?done={'form_versioned' if version else 'form_unchanged'}",
        status_code=303,
    )


# Document templates -----------------------------------------------------------------------------------
async def _read(upload: Any, limit: int) -> tuple[bytes, str]:
    if not isinstance(upload, UploadFile):
        return b"", ""
    content = await upload.read(limit + 1)
    return content, str(upload.filename or "")[:255]


@post(
    BASE + "/{code:str}/templates/{document:str}",
    guards=[_tenant_admin_only],
    include_in_schema=False,
    status_code=303,
    request_max_body_size=TEMPLATE_MAX_BYTES + 256 * 1024,
)
async def template_upload(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: User,
    code: FromPath[str],
    document: FromPath[str],
    data: MultiPart,
) -> Response[Any]:
    procedure = await _procedure(db_session, code)
    if procedure is None or document not in {d.get("code") for d in procedure.documents}:
        return _missing(request, code)
    content, filename = await _read(data.get("file"), TEMPLATE_MAX_BYTES)
    try:
        checked = check_template(content, filename)
        await attach_template(
            db_session, tenant, procedure.code, document, checked, actor=_actor(request, user)
        )
    except CatalogError as exc:
        return await _detail(
            request,
            db_session,
            procedure,
            upload_errors={document: exc.issues[0].message},
            status_code=400,
        )
    return Redirect(f"{BASE}/{procedure.code}?done=template_attached#doc-{document}", status_code=303)


@post(
    BASE + "/{code:str}/templates/{document:str}/remove",
    guards=[_tenant_admin_only],
    include_in_schema=False,
    status_code=303,
)
async def template_remove(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: User,
    code: FromPath[str],
    document: FromPath[str],
) -> Response[Any]:
    procedure = await _procedure(db_session, code)
    if procedure is None:
        return _missing(request, code)
    await remove_template(db_session, tenant, procedure.code, document[:40], actor=_actor(request, user))
    return Redirect(f"{BASE}/{procedure.code}?done=template_removed", status_code=303)


# Import -----------------------------------------------------------------------------------------------
def _import_page(
    request: HttpRequest,
    settings: Settings,
    *,
    errors: list[RowError] | None = None,
    status_code: int = 200,
) -> Response[str]:
    return page(
        request,
        "catalog/manage_import.html",
        status_code=status_code,
        files=shared_files(settings.catalogues_dir),
        errors=errors or [],
        columns=COLUMNS,
        csv_max_kb=CSV_MAX_BYTES // 1024,
    )


async def _preview(
    request: HttpRequest,
    settings: Settings,
    session: AsyncSession,
    parsed: Parsed,
    *,
    source: str,
    shared: str = "",
    payload: str = "",
) -> Response[str]:
    if parsed.errors:
        return _import_page(request, settings, errors=parsed.errors, status_code=400)
    plan: ImportPlan = await plan_import(session, parsed.specs)
    return page(
        request,
        "catalog/manage_import_preview.html",
        plan=plan,
        source=source,
        shared=shared,
        payload=payload,
        key_labels=KEY_LABELS,
    )


@get(BASE + "/import", name="manage_catalog_import", guards=[_tenant_admin_only], include_in_schema=False)
async def import_start(request: HttpRequest, settings: NamedDependency[Settings]) -> Response[str]:
    return _import_page(request, settings)


@post(BASE + "/import/shared", guards=[_tenant_admin_only], include_in_schema=False, status_code=200)
async def import_shared_preview(
    request: HttpRequest,
    settings: NamedDependency[Settings],
    db_session: NamedDependency[AsyncSession],
    data: FormData,
) -> Response[str]:
    name = _text(data, "source", 200)
    parsed = parse_shared(settings.catalogues_dir, name)
    return await _preview(request, settings, db_session, parsed, source="shared", shared=name)


@post(
    BASE + "/import/csv",
    guards=[_tenant_admin_only],
    include_in_schema=False,
    status_code=200,
    request_max_body_size=CSV_MAX_BYTES + 256 * 1024,
)
async def import_csv_preview(
    request: HttpRequest,
    settings: NamedDependency[Settings],
    db_session: NamedDependency[AsyncSession],
    data: MultiPart,
) -> Response[str]:
    content, _ = await _read(data.get("file"), CSV_MAX_BYTES)
    if not content:
        return _import_page(
            request, settings, errors=[RowError(None, "file", "Chọn tệp CSV để nhập.")], status_code=400
        )
    parsed = parse_csv(content, await existing_specs(db_session))
    payload = base64.b64encode(content).decode() if not parsed.errors else ""
    return await _preview(request, settings, db_session, parsed, source="csv", payload=payload)


@post(BASE + "/import/confirm", guards=[_tenant_admin_only], include_in_schema=False, status_code=303)
async def import_confirm(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    settings: NamedDependency[Settings],
    db_session: NamedDependency[AsyncSession],
    user: User,
    data: FormData,
) -> Response[Any]:
    """Apply what the preview showed, read and checked again (the file or the catalogue may have
    changed since; a tampered payload is only another file, checked like the first)."""
    source = _text(data, "source", 20)
    if source == "shared":
        name = _text(data, "shared", 200)
        parsed = parse_shared(settings.catalogues_dir, name)
        label = f"shared:{name}"
    elif source == "csv":
        try:
            content = base64.b64decode(_text(data, "payload", 2 * CSV_MAX_BYTES), validate=True)
        except (binascii.Error, ValueError):
            content = b""
        if not content:
            return _import_page(
                request, settings, errors=[RowError(None, "file", "Chọn tệp CSV để nhập.")], status_code=400
            )
        parsed = parse_csv(content, await existing_specs(db_session))
        label = "csv"
    else:
        return _import_page(request, settings, status_code=400)
    if parsed.errors:
        return _import_page(request, settings, errors=parsed.errors, status_code=400)
    plan = await import_procedures(
        db_session, tenant, parsed.specs, source=label, actor=_actor(request, user)
    )
    return Redirect(
        f"{BASE}?done=imported&added={len(plan.added)}&changed={len(plan.changed)}", status_code=303
    )


MANAGE_HANDLERS: list[HTTPRouteHandler] = [
    catalog_list,
    procedure_detail,
    new_form,
    new_submit,
    edit_form,
    edit_submit,
    publish_confirm,
    unpublish_confirm,
    publish,
    unpublish,
    form_editor,
    form_preview,
    form_save,
    template_upload,
    template_remove,
    import_start,
    import_shared_preview,
    import_csv_preview,
    import_confirm,
]


def manage_router(requires_tenant_admin: Guard) -> Router:
    """The /manage/catalog pages behind identity's tenant-administrator guard, which the app
    hands in (catalog does not import identity)."""
    return Router(path="/", route_handlers=MANAGE_HANDLERS, guards=[requires_tenant_admin])
