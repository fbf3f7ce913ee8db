"""The citizen journey: fill a form (saved as a draft as you type), attach documents, check
answers, submit, get the appointment slip, follow the dossier. Public tracking by code."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import anyio.to_thread
from litestar import Router, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, FromPath, FromQuery, Parameter, SkipValidation
from litestar.response import Redirect, Response, Stream
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.models import Procedure
from motcua.catalog.services import get_procedure
from motcua.core.audit import Actor
from motcua.core.dependencies import NO_TRANSACTION, READ_ONLY
from motcua.core.pages import FormData, HttpRequest, client_address, page, public_origin
from motcua.core.ratelimit import client_key, limited, spend
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import VIETNAM
from motcua.dossiers.forms import FormResult, prefill, validate, visible
from motcua.dossiers.lifecycle import DossierError
from motcua.dossiers.models import WITHDRAWABLE, Dossier, DossierFile
from motcua.dossiers.services import (
    UPLOAD_REQUEST_LIMIT,
    FeesPanel,
    Submission,
    add_supplement_file,
    answer_supplement,
    attach_file,
    citizen_dossier,
    document_store,
    draft_files,
    files_of,
    form_definition,
    history_of,
    my_dossiers,
    open_draft,
    public_status,
    receive_upload,
    reuse_document,
    save_draft,
    slip_files,
    submit_dossier,
    upload_max_mb,
    withdraw_dossier,
)
from motcua.dossiers.slip import SlipData, qr_svg, render_slip_pdf, slip_for
from motcua.dossiers.storage import Storage
from motcua.dossiers.uploads import UploadRejectedError
from motcua.identity.guards import requires_login, requires_officer
from motcua.identity.models import Citizen
from motcua.identity.sessions import UserSession

# The query flag of the redirect after submitting ("mới": new), which alone shows the success panel.
JUST_SUBMITTED = "moi"

# The fees panel of the dossier pages, implemented by payments. Injected unvalidated: FeesPanel
# is a Protocol, which the signature model cannot check with isinstance.
Fees = NamedDependency[SkipValidation[FeesPanel]]


def _as_citizen(request: HttpRequest, user: UserSession) -> Actor:
    return Actor.citizen(user.citizen_id or 0, address=client_address(request))


async def _citizen(session: AsyncSession, user: UserSession) -> Citizen:
    citizen = await session.get(Citizen, user.citizen_id) if user.citizen_id else None
    if citizen is None:
        raise NotFoundException()
    return citizen


async def _procedure(session: AsyncSession, code: str) -> Procedure:
    procedure = await get_procedure(session, code[:60])
    if procedure is None or procedure.level == "information":
        raise NotFoundException()
    return procedure


async def _render_form(
    request: HttpRequest,
    tenant: Tenant,
    session: AsyncSession,
    procedure: Procedure,
    citizen: Citizen,
    *,
    result: FormResult | None = None,
    upload_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[str]:
    draft = await open_draft(session, citizen.id, procedure, {})
    definition = await form_definition(session, procedure.id, draft.form_version)
    if not draft.data:
        draft.data = prefill(definition, citizen)
        await save_draft(session, draft, definition, draft.data)
    raw = result.raw if result is not None else {k: str(v) for k, v in draft.data.items()}
    errors = dict(result.errors) if result is not None else {}
    errors.update(upload_errors or {})
    return page(
        request,
        "dossiers/apply.html",
        status_code=status_code,
        procedure=procedure,
        draft=draft,
        fields=definition,
        shown={f["name"] for f in visible(definition, raw)},
        values=raw,
        errors=errors,
        files=await draft_files(session, draft.id),
        stored=await document_store(session, citizen.id),
        upload_max_mb=upload_max_mb(tenant),
    )


@get("/procedures/{code:str}/apply", guards=[requires_login], include_in_schema=False)
async def apply_form(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
) -> Response[str]:
    procedure = await _procedure(db_session, code)
    return await _render_form(request, tenant, db_session, procedure, await _citizen(db_session, user))


@post("/procedures/{code:str}/apply/draft", guards=[requires_login], include_in_schema=False, status_code=200)
async def autosave_draft(
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
    data: FormData,
) -> Response[str]:
    """htmx saves the form as the person types, so a dropped connection or an expired session
    loses nothing."""
    procedure = await _procedure(db_session, code)
    citizen = await _citizen(db_session, user)
    draft = await open_draft(db_session, citizen.id, procedure, {})
    await save_draft(
        db_session, draft, await form_definition(db_session, procedure.id, draft.form_version), data
    )
    saved = datetime.now(VIETNAM)
    return Response(f'<span class="saved">Đã lưu nháp lúc {saved:%H:%M}</span>', media_type="text/html")


@post("/procedures/{code:str}/apply", guards=[requires_login], include_in_schema=False, status_code=303)
async def apply_continue(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
    data: FormData,
) -> Response[Any]:
    procedure = await _procedure(db_session, code)
    citizen = await _citizen(db_session, user)
    draft = await open_draft(db_session, citizen.id, procedure, {})
    definition = await form_definition(db_session, procedure.id, draft.form_version)
    await save_draft(db_session, draft, definition, data)
    result = validate(definition, data, today=datetime.now(VIETNAM).date())
    files = await draft_files(db_session, draft.id)
    missing = {
        f"doc:{d['code']}": f"Vui lòng tải lên {d['name'][0].lower()}{d['name'][1:]}."
        for d in procedure.documents
        if d.get("required") and d["code"] not in files
    }
    if not result.ok or missing:
        return await _render_form(
            request,
            tenant,
            db_session,
            procedure,
            citizen,
            result=result,
            upload_errors=missing,
            status_code=400,
        )
    return Redirect(f"/procedures/{procedure.code}/apply/review", status_code=303)


@post(
    "/procedures/{code:str}/apply/files/{document:str}",
    guards=[requires_login],
    include_in_schema=False,
    request_max_body_size=UPLOAD_REQUEST_LIMIT,
)
async def upload_document(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    storage: NamedDependency[Storage],
    code: FromPath[str],
    document: FromPath[str],
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
) -> Response[Any]:
    procedure = await _procedure(db_session, code)
    if document not in {d["code"] for d in procedure.documents}:
        raise NotFoundException()
    citizen = await _citizen(db_session, user)
    draft = await open_draft(db_session, citizen.id, procedure, {})
    try:
        validated, stored = await receive_upload(storage, tenant, data)
    except UploadRejectedError as exc:
        return await _render_form(
            request,
            tenant,
            db_session,
            procedure,
            citizen,
            upload_errors={f"doc:{document}": str(exc)},
            status_code=400,
        )
    await attach_file(db_session, draft, document, validated, stored)
    return Redirect(f"/procedures/{procedure.code}/apply#doc-{document}", status_code=303)


@post("/procedures/{code:str}/apply/reuse/{document:str}", guards=[requires_login], include_in_schema=False)
async def reuse_stored_document(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    storage: NamedDependency[Storage],
    code: FromPath[str],
    document: FromPath[str],
    data: FormData,
) -> Response[Any]:
    procedure = await _procedure(db_session, code)
    if document not in {d["code"] for d in procedure.documents}:
        raise NotFoundException()
    citizen = await _citizen(db_session, user)
    draft = await open_draft(db_session, citizen.id, procedure, {})
    try:
        await reuse_document(db_session, storage, tenant, draft, document, str(data.get("file_id", "")))
    except DossierError as exc:
        return await _render_form(
            request,
            tenant,
            db_session,
            procedure,
            citizen,
            upload_errors={f"doc:{document}": str(exc)},
            status_code=400,
        )
    return Redirect(f"/procedures/{procedure.code}/apply#doc-{document}", status_code=303)


@get("/my/documents", guards=[requires_login], include_in_schema=False)
async def my_documents(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    fees: Fees,
) -> Response[str]:
    citizen_id = user.citizen_id or 0
    documents = await document_store(db_session, citizen_id)
    receipts = await fees.receipts_of_citizen(db_session, citizen_id)
    return page(request, "dossiers/documents.html", documents=documents, receipts=receipts, vietnam=VIETNAM)


@get("/procedures/{code:str}/apply/review", guards=[requires_login], include_in_schema=False)
async def review(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
) -> Response[Any]:
    procedure = await _procedure(db_session, code)
    citizen = await _citizen(db_session, user)
    draft = await open_draft(db_session, citizen.id, procedure, {})
    definition = await form_definition(db_session, procedure.id, draft.form_version)
    result = validate(definition, draft.data, today=datetime.now(VIETNAM).date())
    if not result.ok:
        return Redirect(f"/procedures/{procedure.code}/apply", status_code=303)
    return page(
        request,
        "dossiers/review.html",
        procedure=procedure,
        draft=draft,
        answers=[
            (f["label"], result.raw[f["name"]])
            for f in visible(definition, result.raw)
            if result.raw[f["name"]]
        ],
        files=await draft_files(db_session, draft.id),
    )


@post(
    "/procedures/{code:str}/apply/submit",
    guards=[requires_login, limited("submit")],
    include_in_schema=False,
    status_code=303,
)
async def submit(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
    data: FormData,
) -> Response[Any]:
    procedure = await _procedure(db_session, code)
    citizen = await _citizen(db_session, user)
    try:
        outcome = await submit_dossier(
            db_session,
            tenant,
            citizen=citizen,
            procedure=procedure,
            token=str(data.get("token", ""))[:64],
            actor=_as_citizen(request, user),
        )
    except DossierError as exc:
        return page(
            request, "web/forbidden.html", status_code=409, title="Không nộp được hồ sơ", message=str(exc)
        )
    if not isinstance(outcome, Submission):
        return await _render_form(
            request, tenant, db_session, procedure, citizen, result=outcome, status_code=400
        )
    # The success panel is shown once, on this redirect; later visits show the slip alone.
    return Redirect(f"/my/dossiers/{outcome.dossier.code}/slip?{JUST_SUBMITTED}=1", status_code=303)


# The citizen's dossiers -------------------------------------------------------------------------
async def _mine(user: UserSession, session: AsyncSession, code: str) -> Dossier:
    dossier = await citizen_dossier(session, code[:80], user.citizen_id or 0)
    if dossier is None:
        raise NotFoundException()
    return dossier


@get("/my/dossiers", guards=[requires_login], include_in_schema=False, opt={NO_TRANSACTION: True})
async def my_dossier_list(
    request: HttpRequest, db_session: NamedDependency[AsyncSession], user: NamedDependency[UserSession]
) -> Response[str]:
    dossiers = await my_dossiers(db_session, user.citizen_id or 0)
    return page(request, "dossiers/mine.html", dossiers=dossiers, vietnam=VIETNAM)


@get("/my/dossiers/{code:str}", guards=[requires_login], include_in_schema=False, opt={NO_TRANSACTION: True})
async def my_dossier(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    fees: Fees,
    code: FromPath[str],
) -> Response[str]:
    return await _detail(request, tenant, fees, db_session, await _mine(user, db_session, code))


def _slip_data(
    request: HttpRequest,
    tenant: Tenant,
    dossier: Dossier,
    files: list[DossierFile],
    procedure: Procedure | None,
) -> SlipData:
    return slip_for(
        dossier,
        files,
        procedure,
        tenant_name=tenant.name,
        tracking_url=f"{public_origin(request)}/tracking?code={dossier.code}",
    )


@get("/my/dossiers/{code:str}/slip", guards=[requires_login], include_in_schema=False, opt={READ_ONLY: True})
async def slip_page(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    fees: Fees,
    code: FromPath[str],
    just_submitted: Annotated[bool, Parameter(query=JUST_SUBMITTED)] = False,
) -> Response[str]:
    dossier = await _mine(user, db_session, code)
    files = await slip_files(db_session, dossier.id)
    procedure = await db_session.get(Procedure, dossier.procedure_id)
    slip = _slip_data(request, tenant, dossier, files, procedure)
    return page(
        request,
        "dossiers/slip.html",
        slip=slip,
        dossier=dossier,
        just_submitted=just_submitted,
        # The fee is asked for while it is unpaid; the slip itself still states it.
        fee_unpaid=bool(slip.fee_vnd) and not (await fees.fee_state(db_session, tenant, dossier)).paid,
        qr=qr_svg(slip.tracking_url),
        vietnam=VIETNAM,
    )


@get(
    "/my/dossiers/{code:str}/slip.pdf",
    guards=[requires_login],
    include_in_schema=False,
    opt={READ_ONLY: True},
)
async def slip_pdf(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
) -> Response[bytes]:
    dossier = await _mine(user, db_session, code)
    files = await slip_files(db_session, dossier.id)
    procedure = await db_session.get(Procedure, dossier.procedure_id)
    slip = _slip_data(request, tenant, dossier, files, procedure)
    pdf = await anyio.to_thread.run_sync(render_slip_pdf, slip)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "content-disposition": f'attachment; filename="phieu-hen-{dossier.code}.pdf"',
            "cache-control": "private, no-store",
        },
    )


@get("/my/files/{file_id:str}", guards=[requires_login], include_in_schema=False)
async def my_file(
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    storage: NamedDependency[Storage],
    file_id: FromPath[str],
) -> Stream:
    file = await db_session.scalar(
        select(DossierFile).where(
            DossierFile.id == file_id[:32], DossierFile.citizen_id == (user.citizen_id or 0)
        )
    )
    return await _send_file(storage, tenant, file)


@get("/officer/files/{file_id:str}", guards=[requires_officer], include_in_schema=False)
async def officer_file(
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    storage: NamedDependency[Storage],
    file_id: FromPath[str],
) -> Stream:
    """The tenant's officers read every file of their own tenant (the session, the schema and
    the storage key all belong to this tenant, so another tenant's id finds nothing)."""
    file = await db_session.scalar(select(DossierFile).where(DossierFile.id == file_id[:32]))
    return await _send_file(storage, tenant, file)


async def _send_file(storage: Storage, tenant: Tenant, file: DossierFile | None) -> Stream:
    if file is None:
        raise NotFoundException()
    # Opened before the response starts, so a missing object is still a 404; then sent in the
    # storage's chunks (a bucket's object is never held whole in memory).
    chunks = await storage.open(tenant.schema, file.storage_key)
    return Stream(
        chunks,
        media_type=file.media_type,
        headers={
            "content-disposition": "inline",
            "x-content-type-options": "nosniff",
            "cache-control": "private, no-store",
            "content-security-policy": "default-src 'none'; sandbox",
        },
    )


async def _detail(
    request: HttpRequest,
    tenant: Tenant,
    fees: FeesPanel,
    session: AsyncSession,
    dossier: Dossier,
    **extra: Any,
) -> Response[str]:
    files = await files_of(session, dossier.id)
    before = int((dossier.supplement or {}).get("files_before", 0))
    extra_files = sorted((f for f in files if f.document_code == "bo-sung"), key=lambda f: f.created_at)
    return page(
        request,
        "dossiers/detail.html",
        status_code=extra.pop("status_code", 200),
        dossier=dossier,
        history=await history_of(session, dossier.id),
        files=files,
        supplement_files=extra_files[before:] if dossier.supplement else [],
        withdrawable=dossier.status in WITHDRAWABLE,
        fees=await fees.fee_state(session, tenant, dossier),
        vietnam=VIETNAM,
        error=extra.pop("error", None),
    )


@post(
    "/my/dossiers/{code:str}/supplement/files",
    guards=[requires_login],
    include_in_schema=False,
    request_max_body_size=UPLOAD_REQUEST_LIMIT,
)
async def supplement_file(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    storage: NamedDependency[Storage],
    fees: Fees,
    code: FromPath[str],
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
) -> Response[Any]:
    dossier = await _mine(user, db_session, code)
    if dossier.status != "supplement_requested":
        return await _detail(
            request,
            tenant,
            fees,
            db_session,
            dossier,
            status_code=409,
            error="Hồ sơ này không có yêu cầu bổ sung.",
        )
    try:
        validated, stored = await receive_upload(storage, tenant, data)
    except UploadRejectedError as exc:
        return await _detail(request, tenant, fees, db_session, dossier, status_code=400, error=str(exc))
    await add_supplement_file(db_session, dossier, validated, stored)
    return Redirect(f"/my/dossiers/{dossier.code}#supplement", status_code=303)


@post("/my/dossiers/{code:str}/supplement", guards=[requires_login], include_in_schema=False, status_code=303)
async def supplement_answer(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    fees: Fees,
    code: FromPath[str],
    data: FormData,
) -> Response[Any]:
    dossier = await _mine(user, db_session, code)
    try:
        await answer_supplement(
            db_session, tenant, dossier, actor=_as_citizen(request, user), note=str(data.get("note", ""))
        )
    except DossierError as exc:
        return await _detail(request, tenant, fees, db_session, dossier, status_code=409, error=str(exc))
    return Redirect(f"/my/dossiers/{dossier.code}", status_code=303)


@post("/my/dossiers/{code:str}/withdraw", guards=[requires_login], include_in_schema=False, status_code=303)
async def withdraw(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
    data: FormData,
) -> Response[Any]:
    dossier = await _mine(user, db_session, code)
    try:
        await withdraw_dossier(
            db_session, tenant, dossier, actor=_as_citizen(request, user), reason=str(data.get("reason", ""))
        )
    except DossierError as exc:
        return page(
            request, "web/forbidden.html", status_code=409, title="Không rút được hồ sơ", message=str(exc)
        )
    return Redirect(f"/my/dossiers/{dossier.code}", status_code=303)


# Public tracking ----------------------------------------------------------------------------------
@get("/tracking", include_in_schema=False, opt={NO_TRANSACTION: True})
async def tracking_page(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    redis: NamedDependency[Redis],
    settings: NamedDependency[Settings],
    code: FromQuery[str | None] = None,
) -> Response[str]:
    status = None
    searched = (code or "").strip()[:80]
    if searched:
        # Codes are guessable in sequence: every lookup, here or through the API, spends one
        # unit of the client's "lookup" budget.
        wait = await spend(redis, "lookup", settings.rate_limits["lookup"], client_key(request))
        if wait is not None:
            return page(
                request,
                "dossiers/tracking.html",
                status_code=429,
                code=searched,
                status=None,
                limited=True,
                headers={"retry-after": str(wait)},
            )
        status = await public_status(db_session, searched)
    return page(
        request,
        "dossiers/tracking.html",
        status_code=404 if searched and status is None else 200,
        code=searched,
        status=status,
        limited=False,
    )


@get(
    "/api/v1/tracking/{code:str}",
    tags=["tracking"],
    summary="Public status of a dossier by its code",
    # One budget with the tracking page: the two forms of one lookup.
    guards=[limited("lookup")],
    opt={NO_TRANSACTION: True},
    responses={
        404: ResponseSpec(dict[str, str], description="No such dossier here.", generate_examples=False),
        429: ResponseSpec(dict[str, Any], description="Too many lookups.", generate_examples=False),
    },
)
async def api_tracking(
    db_session: NamedDependency[AsyncSession], code: FromPath[str]
) -> Response[dict[str, Any]]:
    """Status and dates only, never personal data. Unknown code (or one of another portal) → 404."""
    status = await public_status(db_session, code[:80])
    if status is None:
        return Response({"detail": "Không tìm thấy hồ sơ"}, status_code=404)
    return Response(
        {
            "code": status.code,
            "procedure_name": status.procedure_name,
            "status": status.status,
            "status_label": status.status_label,
            "received_at": status.received_at.isoformat(),
            "due_at": status.due_at.isoformat(),
        }
    )


router = Router(
    path="/",
    route_handlers=[
        apply_form,
        reuse_stored_document,
        my_documents,
        autosave_draft,
        apply_continue,
        upload_document,
        review,
        submit,
        my_dossier_list,
        my_dossier,
        slip_page,
        slip_pdf,
        my_file,
        officer_file,
        withdraw,
        supplement_file,
        supplement_answer,
        tracking_page,
        api_tracking,
    ],
)
