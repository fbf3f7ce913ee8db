"""The officer's back office at /officer: work queues and the dossier workspace."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import anyio.to_thread
from litestar import Router, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import Body, FromPath, FromQuery, QueryParameter, SkipValidation
from litestar.response import Redirect, Response, Stream
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.backoffice.desk import HANDLERS as DESK_HANDLERS
from motcua.backoffice.results import ALREADY_SIGNED, sign_results, signed_result_hashes
from motcua.backoffice.services import (
    CONFIRM_FIELD,
    CONFIRM_VALUE,
    CONFIRMED_ACTIONS,
    CONFIRMED_STEPS,
    DONE_KEYS,
    FILE_KINDS,
    JOB_LABELS,
    NOT_CONFIRMED,
    OTHER_FILE_KIND,
    OTHER_JOB,
    PRIMARY_ACTION,
    QUEUE_KEYS,
    QUEUES,
    RESULT_DOCUMENT,
    VIEWABLE_MEDIA_TYPES,
    apologies_of,
    assign,
    issue_apology,
    officer_act,
    officer_dossier,
    officer_of_choice,
    officer_scope,
    officers_of,
    queue_page,
    staff_label,
)
from motcua.backoffice.steps import STEP_VERBS, step_action, step_panel
from motcua.catalog.models import Procedure
from motcua.core.actions import savepoint
from motcua.core.audit import Actor, PlatformAudit
from motcua.core.db import Database
from motcua.core.dependencies import NO_TRANSACTION, READ_ONLY
from motcua.core.messages import Message, Money
from motcua.core.pages import FormData, HttpRequest, client_address, page, public_origin
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import VIETNAM
from motcua.dossiers.lifecycle import DONE, FINAL, RULES, Action, DossierError, allowed_actions
from motcua.dossiers.models import Dossier, DossierFile, DossierStatus
from motcua.dossiers.paper_form_routes import paper_form_download
from motcua.dossiers.paper_forms import (
    FORM_LABELS,
    issue_apology_form,
    issue_control_sheet,
    issue_for_action,
    paper_form_of,
    paper_forms_of,
)
from motcua.dossiers.services import (
    UPLOAD_REQUEST_LIMIT,
    calendar_for,
    files_of,
    form_definition,
    history_of,
    receive_upload,
    record_file,
)
from motcua.dossiers.storage import Storage
from motcua.dossiers.uploads import UploadRejectedError
from motcua.dossiers.words import STATUS_TONE, history_in_words, personal_ids_in
from motcua.identity.guards import requires_officer, requires_tenant_admin
from motcua.identity.services import staff_names
from motcua.identity.sessions import UserSession
from motcua.payments.models import PaymentMethod, PaymentStatus, RefundStatus
from motcua.payments.provider import PaymentProvider
from motcua.payments.refunds import (
    parse_expected_remaining,
    parse_refund_amount,
    refundable,
    refunds_of,
    request_refund,
)
from motcua.payments.services import fee_state, payments_of, record_counter_payment
from motcua.payments.settings import parse_amount_vnd
from motcua.signing.services import Signing, SigningRefusedError, signable_problem
from motcua.workflow.models import StepKind
from motcua.workflow.scope import sees_dossier
from motcua.workflow.services import open_step

# The platform's payment provider, None where online payment is off. Injected unvalidated:
# PaymentProvider is a Protocol, which the signature model cannot check with isinstance.
Payments = NamedDependency[SkipValidation[PaymentProvider | None]]


def _as_officer(request: HttpRequest, user: UserSession) -> Actor:
    return Actor.officer(user.personal_id, address=client_address(request))


@get("/officer", guards=[requires_officer], include_in_schema=False, opt={NO_TRANSACTION: True})
async def queues(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    queue: FromQuery[str | None] = None,
    procedure: FromQuery[str | None] = None,
    field: FromQuery[str | None] = None,
    mine: FromQuery[bool] = False,
    after: Annotated[str | None, QueryParameter(name="sau")] = None,
) -> Response[str]:
    current = queue if queue in QUEUE_KEYS else "new"
    result = await queue_page(
        db_session,
        calendar_for(tenant),
        current,
        scope=await officer_scope(db_session, user),
        procedure=(procedure or None),
        field=(field or None),
        assigned_to=user.personal_id if mine else None,
        after=after,
        schema=tenant.schema,
    )
    # A tab clicked with htmx gets the tabs, filters and table (the current tab must move with
    # the queue); htmx restoring history after a cache miss wants the whole page.
    fragment = request.headers.get("hx-request") == "true" and not request.headers.get(
        "hx-history-restore-request"
    )
    template = "backoffice/queue_region.html" if fragment else "backoffice/queues.html"
    return page(
        request,
        template,
        result=result,
        queues=QUEUES,
        status_tone=STATUS_TONE,
        procedure=procedure or "",
        field=field or "",
        mine=mine,
    )


async def _dossier(session: AsyncSession, code: str, user: UserSession) -> Dossier:
    """The dossier of ``code`` if it belongs to one of the officer's units, else 404 exactly as
    for an unknown code (workflow.scope): every /officer/dossiers/{code}/… route goes through
    here before it reads or changes anything."""
    dossier = await officer_dossier(session, code, user)
    if dossier is None:
        raise NotFoundException()
    return dossier


async def _workspace(
    request: HttpRequest,
    tenant: Tenant,
    session: AsyncSession,
    dossier: Dossier,
    user: UserSession,
    *,
    error: str | None = None,
    status_code: int = 200,
    done: str | None = None,
    viewing: str | None = None,
) -> Response[str]:
    definition = await form_definition(session, dossier.procedure_id, dossier.form_version)
    labels = {f["name"]: f["label"] for f in definition}
    procedure = await session.get(Procedure, dossier.procedure_id)
    kinds = {**{d["code"]: d["name"] for d in (procedure.documents if procedure else [])}, **FILE_KINDS}
    files = sorted(await files_of(session, dossier.id), key=lambda f: (f.created_at, f.id))
    viewable = [f for f in files if f.media_type in VIEWABLE_MEDIA_TYPES]
    # The file in the viewer: the one asked for (?xem=…, a link of the file list, no script
    # needed), else the result once there is one to hand over, else the first document.
    results = [f for f in viewable if f.document_code == RESULT_DOCUMENT]
    first = results[-1] if results and dossier.status in DONE else (viewable[0] if viewable else None)
    shown = next((f for f in viewable if f.id == viewing), first)
    fees = await fee_state(session, tenant, dossier, provider=None)
    history = await history_of(session, dossier.id)
    workflow = await step_panel(session, dossier, await officer_scope(session, user))
    officers = (
        await officers_of(session, unit_id=workflow.step.unit_id if workflow.step else None)
        if dossier.status not in FINAL
        else []
    )
    names = await staff_names(session, personal_ids_in(history, dossier.assigned_to))
    actions = [(a.value, RULES[a]) for a in allowed_actions(dossier.status, "officer")]
    primary = PRIMARY_ACTION.get(dossier.status)
    # Payment is asked for only while something is owed: a paid dossier has no such button.
    if fees.paid:
        actions = [(a, r) for a, r in actions if a != Action.REQUEST_PAYMENT]
    return page(
        request,
        "backoffice/workspace.html",
        status_code=status_code,
        dossier=dossier,
        answers=[(labels.get(k, k), v) for k, v in dossier.data.items()],
        files=files,
        file_kinds=kinds,
        other_file_kind=OTHER_FILE_KIND,
        shown=shown,
        chosen=shown is not None and shown.id == viewing,
        has_result=any(f.document_code == RESULT_DOCUMENT for f in files),
        results_signed=bool(await signed_result_hashes(session, dossier.id)),
        history=history_in_words(history, names, applicant=dossier.applicant_name, staff=True),
        assigned_name=staff_label(dossier.assigned_to, names) if dossier.assigned_to else None,
        officers=officers,
        workflow=workflow,
        now=datetime.now(VIETNAM),
        apologies=await apologies_of(session, dossier.id),
        fees=fees,
        refundable={p.id: await refundable(session, p) for p in fees.payments},
        refunds=await refunds_of(session, dossier.id),
        payment_labels={s.value: s.label for s in PaymentStatus},
        method_labels={m.value: m.label for m in PaymentMethod},
        refund_labels={s.value: s.label for s in RefundStatus},
        primary=[(a, r) for a, r in actions if a == primary],
        secondary=[(a, r) for a, r in actions if a != primary and a not in CONFIRMED_ACTIONS],
        confirmed=[(a, r) for a, r in actions if a in CONFIRMED_ACTIONS],
        status_tone=STATUS_TONE,
        status_labels={s.value: s.label for s in DossierStatus},
        vietnam=VIETNAM,
        error=error,
        done=done if done in DONE_KEYS and error is None else None,
        confirm_field=CONFIRM_FIELD,
        confirm_value=CONFIRM_VALUE,
        forms=await paper_forms_of(session, dossier.id),
        form_labels=FORM_LABELS,
    )


@get(
    "/officer/dossiers/{code:str}", guards=[requires_officer], include_in_schema=False, opt={READ_ONLY: True}
)
async def workspace(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
    done: FromQuery[str | None] = None,
    viewing: Annotated[str | None, QueryParameter(name="xem")] = None,
) -> Response[str]:
    return await _workspace(
        request, tenant, db_session, await _dossier(db_session, code, user), user, done=done, viewing=viewing
    )


def _done(dossier: Dossier, key: str) -> Redirect:
    """Back to the workspace, which says what was done (one banner, gone on the next visit)."""
    return Redirect(f"/officer/dossiers/{dossier.code}?done={key}", status_code=303)


def _confirmed(data: dict[str, Any]) -> bool:
    return str(data.get(CONFIRM_FIELD, "")) == CONFIRM_VALUE


def _version(data: dict[str, Any]) -> int:
    try:
        return int(str(data.get("version", "")))
    except ValueError:
        return -1


@post("/officer/dossiers/{code:str}/actions/{action:str}", guards=[requires_officer], include_in_schema=False)
async def act(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    signing: NamedDependency[Signing],
    code: FromPath[str],
    action: FromPath[str],
    data: FormData,
) -> Response[Any]:
    dossier = await _dossier(db_session, code, user)
    try:
        chosen = Action(action)
        if RULES[chosen].by != "officer":
            raise ValueError(action)
    except ValueError:
        raise NotFoundException() from None
    try:
        if chosen in CONFIRMED_ACTIONS and not _confirmed(data):
            raise DossierError(NOT_CONFIRMED)
        if chosen == Action.FINISH and dossier.status in RULES[chosen].sources:
            results = await db_session.scalar(
                select(func.count())
                .select_from(DossierFile)
                .where(DossierFile.dossier_id == dossier.id, DossierFile.document_code == RESULT_DOCUMENT)
            )
            if not results:
                raise DossierError("Vui lòng tải lên văn bản kết quả trước khi hoàn thành xử lý.")
        if chosen in (Action.FINISH, Action.REQUEST_PAYMENT) and dossier.status in RULES[chosen].sources:
            await _check_fees(db_session, tenant, dossier, chosen, data)
        # A savepoint: a signature refused after the action was written undoes the action too.
        async with savepoint(db_session):
            await officer_act(
                db_session,
                tenant,
                dossier,
                chosen,
                actor=_as_officer(request, user),
                version=_version(data),
                reason=str(data.get("reason", "")),
                data=data,
            )
            if chosen == Action.FINISH:
                # Results not signed at a leader's approval (a dossier outside the workflow) are
                # final now: signed with the deciding unit's key (backoffice.results).
                await sign_results(
                    db_session,
                    tenant,
                    dossier,
                    signing=signing,
                    origin=public_origin(request),
                    unit_id=dossier.deciding_unit_id,
                    signer_name=user.name,
                )
            # Mẫu 02 / 03 / 05 of Circular 01/2018, signed in the same transaction as the action.
            await issue_for_action(
                db_session,
                tenant,
                dossier,
                chosen,
                signing=signing,
                origin=public_origin(request),
                signer_name=user.name,
            )
    except (DossierError, SigningRefusedError) as exc:
        # Refused before anything was written, or undone with the savepoint (a revoked or expired
        # key): the same transaction can still render the workspace, with the dossier as it is.
        dossier = await _dossier(db_session, code, user)
        return await _workspace(request, tenant, db_session, dossier, user, error=str(exc), status_code=409)
    return _done(dossier, chosen.value)


@post("/officer/dossiers/{code:str}/steps/{verb:str}", guards=[requires_officer], include_in_schema=False)
async def step(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    signing: NamedDependency[Signing],
    code: FromPath[str],
    verb: FromPath[str],
    data: FormData,
) -> Response[Any]:
    """A workflow step action (backoffice.steps): complete, send back, transfer, ask for or give
    an opinion. Only for the holders of the step's role; a stale page is refused. A leader's
    completion of the approval step signs the dossier's results (backoffice.results)."""
    dossier = await _dossier(db_session, code, user)
    if verb not in STEP_VERBS:
        raise NotFoundException()
    try:
        if verb in CONFIRMED_STEPS and not _confirmed(data):
            raise DossierError(NOT_CONFIRMED)
        # A savepoint: a result that cannot be signed, or a key that may not sign, undoes the
        # approval with it (the step stays with the leader).
        async with savepoint(db_session):
            current = await open_step(db_session, dossier.id) if verb == "advance" else None
            await step_action(
                db_session,
                tenant,
                dossier,
                await officer_scope(db_session, user),
                verb,
                data,
                actor=_as_officer(request, user),
                at=datetime.now(VIETNAM),
            )
            if current is not None and current.kind == StepKind.LEADER:
                await sign_results(
                    db_session,
                    tenant,
                    dossier,
                    signing=signing,
                    origin=public_origin(request),
                    unit_id=current.unit_id,
                    signer_name=user.name,
                )
    except (DossierError, SigningRefusedError) as exc:
        dossier = await _dossier(db_session, code, user)
        return await _workspace(request, tenant, db_session, dossier, user, error=str(exc), status_code=409)
    return _done(dossier, f"step_{verb}")


async def _check_fees(
    session: AsyncSession, tenant: Tenant, dossier: Dossier, action: Action, data: dict[str, Any]
) -> None:
    """Fees come before the result: a dossier with unpaid fees is not finished, and payment is
    only requested when something is owed (the catalogue's fee or the amount typed)."""
    fees = await fee_state(session, tenant, dossier, provider=None)
    if action == Action.REQUEST_PAYMENT:
        typed = parse_amount_vnd(str(data.get("amount") or ""), what=Message("Số tiền phải nộp"))
        if fees.paid:
            raise DossierError(Message("Hồ sơ này đã nộp phí, lệ phí."))
        if (typed or fees.fee_vnd) <= 0:
            raise DossierError(Message("Nhập số tiền phải nộp (đồng) để yêu cầu nghĩa vụ tài chính."))
        return
    if action == Action.FINISH and fees.fee_vnd > 0 and not fees.paid:
        raise DossierError(
            Message(
                "Hồ sơ chưa nộp phí, lệ phí (%(fee)s): hãy “Yêu cầu nghĩa vụ tài chính” hoặc ghi nhận "
                "thu phí tại quầy trước khi hoàn thành xử lý.",
                fee=Money(fees.fee_vnd),
            )
        )


@post("/officer/dossiers/{code:str}/assign", guards=[requires_officer], include_in_schema=False)
async def assign_dossier(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
    data: FormData,
) -> Response[Any]:
    dossier = await _dossier(db_session, code, user)
    # The picker sends a grant's id among the staff of the unit holding the dossier's open step
    # (else the tenant's officers); the server checks it against that list now (the list is a
    # convenience, not the check).
    current = await open_step(db_session, dossier.id)
    target = await officer_of_choice(
        db_session, str(data.get("to", "")).strip(), unit_id=current.unit_id if current else None
    )
    try:
        if target is None:
            raise DossierError(Message("Chọn một cán bộ trong danh sách cán bộ của cơ quan."))
        await assign(
            db_session,
            dossier,
            to=target,
            actor=_as_officer(request, user),
            version=_version(data),
            step=current,
        )
    except DossierError as exc:
        return await _workspace(request, tenant, db_session, dossier, user, error=str(exc), status_code=409)
    return _done(dossier, "assign")


@post("/officer/dossiers/{code:str}/apology", guards=[requires_officer], include_in_schema=False)
async def apology(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    signing: NamedDependency[Signing],
    code: FromPath[str],
    data: FormData,
) -> Response[Any]:
    dossier = await _dossier(db_session, code, user)
    try:
        try:
            new_due = datetime.fromisoformat(
                f"{data.get('new_date', '')}T{data.get('new_time') or '17:00'}"
            ).replace(tzinfo=VIETNAM)
        except ValueError:
            raise DossierError("Ngày hẹn mới không hợp lệ.") from None
        slip = await issue_apology(
            db_session,
            tenant,
            dossier,
            actor=_as_officer(request, user),
            new_due=new_due,
            reason=str(data.get("reason", "")),
            version=_version(data),
        )
        await issue_apology_form(
            db_session,
            tenant,
            dossier,
            slip,
            signing=signing,
            origin=public_origin(request),
            signer_name=user.name,
        )
    except DossierError as exc:
        return await _workspace(request, tenant, db_session, dossier, user, error=str(exc), status_code=409)
    except SigningRefusedError as exc:
        raise ClientException(status_code=409, detail=str(exc)) from exc
    return _done(dossier, "apology")


@post("/officer/dossiers/{code:str}/forms/control-sheet", guards=[requires_officer], include_in_schema=False)
async def control_sheet(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    signing: NamedDependency[Signing],
    code: FromPath[str],
) -> Redirect:
    """Mẫu 05, the control sheet of the whole process so far, prepared on demand."""
    dossier = await _dossier(db_session, code, user)
    try:
        await issue_control_sheet(
            db_session, tenant, dossier, signing=signing, origin=public_origin(request), signer_name=user.name
        )
    except SigningRefusedError as exc:
        raise ClientException(status_code=409, detail=str(exc)) from exc
    return _done(dossier, "control_sheet")


@get(
    "/officer/dossiers/{code:str}/forms/{document_id:str}",
    guards=[requires_officer],
    include_in_schema=False,
    opt={READ_ONLY: True},
)
async def officer_paper_form(
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    signing: NamedDependency[Signing],
    code: FromPath[str],
    document_id: FromPath[str],
) -> Stream:
    dossier = await _dossier(db_session, code, user)  # 404 outside the officer's units
    row = await paper_form_of(db_session, dossier.id, document_id[:64])
    if row is None:
        raise NotFoundException()
    return await paper_form_download(signing, tenant, row, dossier.code)


@post(
    "/officer/dossiers/{code:str}/results",
    guards=[requires_officer],
    include_in_schema=False,
    request_max_body_size=UPLOAD_REQUEST_LIMIT,
)
async def upload_result(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    storage: NamedDependency[Storage],
    user: NamedDependency[UserSession],
    code: FromPath[str],
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
) -> Response[Any]:
    dossier = await _dossier(db_session, code, user)
    if dossier.status != DossierStatus.IN_PROGRESS:
        return await _workspace(
            request,
            tenant,
            db_session,
            dossier,
            user,
            error="Chỉ tải kết quả khi hồ sơ đang xử lý.",
            status_code=409,
        )
    if await signed_result_hashes(db_session, dossier.id):
        # Signed at the leader's approval: a result added now would reach the citizen unapproved.
        return await _workspace(
            request, tenant, db_session, dossier, user, error=ALREADY_SIGNED, status_code=409
        )
    try:
        validated, stored = await receive_upload(storage, tenant, data)
    except UploadRejectedError as exc:
        return await _workspace(request, tenant, db_session, dossier, user, error=str(exc), status_code=400)
    # A result is signed where it becomes final, and only a readable PDF can be: refused now, while
    # the officer who uploaded it can convert it, rather than at the leader's approval.
    problem = await anyio.to_thread.run_sync(signable_problem, validated.data)
    if problem is not None:
        await storage.delete(tenant.schema, stored.key)
        return await _workspace(request, tenant, db_session, dossier, user, error=problem, status_code=400)
    # Results are the citizen's too: they show in their document store for later dossiers.
    await record_file(
        db_session,
        validated,
        stored,
        citizen_id=dossier.citizen_id,
        document_code=RESULT_DOCUMENT,
        dossier_id=dossier.id,
    )
    return _done(dossier, "result")


@post("/officer/dossiers/{code:str}/payments/counter", guards=[requires_officer], include_in_schema=False)
async def counter_payment(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
    data: FormData,
) -> Response[Any]:
    dossier = await _dossier(db_session, code, user)
    try:
        await record_counter_payment(
            db_session,
            tenant,
            dossier,
            actor=_as_officer(request, user),
            method=str(data.get("method") or ""),
        )
    except DossierError as exc:
        return await _workspace(request, tenant, db_session, dossier, user, error=str(exc), status_code=409)
    return _done(dossier, "counter_payment")


@post(
    "/officer/dossiers/{code:str}/payments/{payment_id:int}/refund",
    guards=[requires_officer],
    include_in_schema=False,
)
async def refund_payment(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db: NamedDependency[Database],
    user: NamedDependency[UserSession],
    payments: Payments,
    code: FromPath[str],
    payment_id: FromPath[int],
    data: FormData,
) -> Response[Any]:
    """Full or partial refund with a reason, through the provider for online payments. The
    refund commits in its own transactions, before and after the provider call: this handler
    keeps no transaction open while the provider is asked."""
    async with db.tenant_session(tenant) as session:
        dossier = await _dossier(session, code, user)
        if payment_id not in {p.id for p in await payments_of(session, dossier.id)}:
            raise NotFoundException()
    try:
        if not _confirmed(data):
            raise DossierError(NOT_CONFIRMED)
        await request_refund(
            db,
            payments,
            tenant,
            payment_id,
            amount_vnd=parse_refund_amount(str(data.get("amount") or "")),
            reason=str(data.get("reason") or ""),
            actor=_as_officer(request, user),
            expected_remaining=parse_expected_remaining(str(data.get("remaining") or "")),
        )
    except DossierError as exc:
        async with db.tenant_session(tenant) as session:
            dossier = await _dossier(session, code, user)
            return await _workspace(request, tenant, session, dossier, user, error=str(exc), status_code=409)
    return _done(dossier, "refund")


# The officer's PDF view: no script, no sandbox (see officer_file), framed by this origin only.
# style-src: the browser's PDF viewer page styles itself inline.
FRAMED_PDF_POLICY = "default-src 'none'; object-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'"


@get("/officer/files/{file_id:str}", guards=[requires_officer], include_in_schema=False)
async def officer_file(
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    storage: NamedDependency[Storage],
    user: NamedDependency[UserSession],
    file_id: FromPath[str],
) -> Stream:
    """A file of a dossier of the officer's units (workflow.scope); any other file, of another
    unit or tenant or none, is the same 404 (the session, the schema and the storage key all
    belong to this tenant).

    The workspace shows a PDF in a frame beside the actions, so a PDF is the one response that
    this portal's own pages may frame (``frame-ancestors 'self'``, ``X-Frame-Options:
    SAMEORIGIN``; every other response keeps ``DENY``, web.headers). It cannot be sandboxed:
    browsers refuse to start their PDF viewer in a sandboxed document. That is safe because the
    type is the sniffed one (uploads: a PDF starts with ``%PDF-``, no HTML polyglot), sent with
    ``nosniff``, and the policy allows no script: the bytes are shown by the PDF viewer or not
    at all. Images keep the sandbox (the workspace shows them with ``<img>``)."""
    file = await db_session.scalar(select(DossierFile).where(DossierFile.id == file_id[:32]))
    if file is None or not await sees_dossier(
        db_session, await officer_scope(db_session, user), file.dossier_id
    ):
        raise NotFoundException()
    framed = file.media_type == "application/pdf"
    # Opened before the response starts, so a missing object is still a 404; then sent in the
    # storage's chunks (a bucket's object is never held whole in memory).
    chunks = await storage.open(tenant.schema, file.storage_key)
    headers = {
        "content-disposition": "inline",
        "x-content-type-options": "nosniff",
        "cache-control": "private, no-store",
        "content-security-policy": FRAMED_PDF_POLICY if framed else "default-src 'none'; sandbox",
    }
    if framed:
        headers["x-frame-options"] = "SAMEORIGIN"
    return Stream(chunks, media_type=file.media_type, headers=headers)


@get("/manage/jobs", guards=[requires_tenant_admin], include_in_schema=False)
async def failed_jobs(
    request: HttpRequest, tenant: NamedDependency[Tenant], db_session: NamedDependency[AsyncSession]
) -> Response[str]:
    """Background jobs of this tenant that failed after all their retries (e.g. an email the
    mail server kept refusing), for the tenant administrator to follow up."""
    rows = (
        await db_session.scalars(
            select(PlatformAudit)
            .where(PlatformAudit.action == "job.failed", PlatformAudit.tenant_slug == tenant.slug)
            .order_by(PlatformAudit.id.desc())
            .limit(200)
        )
    ).all()
    jobs = [
        {
            "at": row.at,
            "label": JOB_LABELS.get(str(row.detail.get("actor", "")), OTHER_JOB),
            "error": str(row.detail.get("error", "")),
        }
        for row in rows
    ]
    return page(request, "backoffice/failed_jobs.html", jobs=jobs)


router = Router(
    path="/",
    route_handlers=[
        queues,
        workspace,
        act,
        step,
        assign_dossier,
        apology,
        control_sheet,
        officer_paper_form,
        upload_result,
        counter_payment,
        refund_payment,
        officer_file,
        failed_jobs,
        *DESK_HANDLERS,
    ],
)
