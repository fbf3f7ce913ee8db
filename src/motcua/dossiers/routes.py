"""The citizen journey: fill a form (saved as a draft as you type), attach documents, check
answers, submit, get the appointment slip, follow the dossier. Public tracking by code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import anyio.to_thread
from litestar import Router, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, FromPath, FromQuery, QueryParameter, SkipValidation
from litestar.response import Redirect, Response, Stream
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.models import Procedure
from motcua.catalog.services import get_procedure
from motcua.core.apidocs import Refusable
from motcua.core.audit import Actor
from motcua.core.db import RawReads
from motcua.core.dependencies import NO_TRANSACTION, READ_ONLY
from motcua.core.digits import row_id
from motcua.core.pages import FormData, HttpRequest, client_address, language, page, public_origin
from motcua.core.ratelimit import client_key, limited, spend
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.core.theming import DEFAULT_LANGUAGE
from motcua.dossiers.deadlines import VIETNAM
from motcua.dossiers.forms import (
    MISSING_DECLARATION,
    DeliveryChoice,
    FormResult,
    check_delivery,
    declared,
    prefill,
    validate,
    visible,
)
from motcua.dossiers.lifecycle import DossierError
from motcua.dossiers.models import Delivery, Dossier, DossierDraft, DossierFile
from motcua.dossiers.page import dossier_page, unit_name
from motcua.dossiers.paper_forms import FORM_LABELS
from motcua.dossiers.services import (
    UPLOAD_REQUEST_LIMIT,
    FeesPanel,
    Progress,
    Submission,
    add_supplement_file,
    answer_supplement,
    attach_file,
    citizen_dossier,
    count_my_dossiers,
    detach_file,
    document_store,
    draft_files,
    form_definition,
    my_dossiers,
    open_draft,
    progress_of,
    public_status,
    receive_upload,
    released_to_applicant,
    reuse_document,
    save_commune,
    save_delivery,
    save_draft,
    slip_files,
    submit_dossier,
    upload_max_mb,
    withdraw_dossier,
)
from motcua.dossiers.slip import SlipData, filed_slip, issue_signed_slip, qr_svg, render_slip_pdf, slip_for
from motcua.dossiers.storage import Storage
from motcua.dossiers.uploads import UploadRejectedError
from motcua.dossiers.words import TODO_WORDS, status_tone, stepper, todo_of
from motcua.identity.guards import requires_login
from motcua.identity.models import Citizen
from motcua.identity.schemas import mask_personal_id
from motcua.identity.sessions import SessionStore, UserSession
from motcua.organisation.models import UnitKind
from motcua.organisation.routing import (
    RouteInputError,
    asks_for_commune,
    commune_choice,
    communes,
    unit_in_address,
)
from motcua.signing.services import Signing, signed_bytes

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


# Applying: a task list of five steps (the GOV.UK "task list", "check answers" and "confirmation
# page" patterns). Each step is a plain page and form, validated on the server; what is done is
# derived from the draft (services.Progress), never stored. The steps in order, each the last
# segment of its page's path under /procedures/<code>/apply/:
STEPS = ("applicant", "answers", "documents", "delivery", "review")
# The query value (and hidden field) of a step opened from a "Thay đổi" link of the check page:
# saving it goes back there instead of on to the next step.
FROM_REVIEW = "review"


@dataclass
class _Application:
    procedure: Procedure
    citizen: Citizen
    draft: DossierDraft
    definition: list[dict[str, Any]]
    files: dict[str, DossierFile]
    progress: Progress
    # A commune-level procedure: the delivery step also asks "Nơi nộp hồ sơ".
    commune_needed: bool = False


async def _application(session: AsyncSession, code: str, user: UserSession) -> _Application:
    """The signed-in citizen's own draft for this procedure (made on the first visit, with what
    the e-ID already knows): every apply route reads only this one."""
    procedure = await _procedure(session, code)
    citizen = await _citizen(session, user)
    draft = await open_draft(session, citizen.id, procedure, {})
    definition = await form_definition(session, procedure.id, draft.form_version)
    if not draft.data:
        draft.data = prefill(definition, citizen)
        await save_draft(session, draft, definition, draft.data)
    files = await draft_files(session, draft.id)
    today = datetime.now(VIETNAM).date()
    commune_needed = await asks_for_commune(session, procedure)
    return _Application(
        procedure,
        citizen,
        draft,
        definition,
        files,
        progress_of(procedure, definition, draft, files, today=today, commune_needed=commune_needed),
        commune_needed,
    )


def _step_url(application: _Application, step: str, *, back: bool = False, anchor: str = "") -> str:
    url = f"/procedures/{application.procedure.code}/apply/{step}"
    if back:
        url += f"?from={FROM_REVIEW}"
    return url + (f"#{anchor}" if anchor else "")


def _next(application: _Application, step: str, back: bool) -> Redirect:
    """Where saving ``step`` leads: back to the check page when opened from it, else on."""
    following = STEPS[STEPS.index(step) + 1]
    return Redirect(_step_url(application, FROM_REVIEW if back else following), status_code=303)


def _step_page(
    request: HttpRequest,
    tenant: Tenant,
    application: _Application,
    step: str,
    *,
    back: bool = False,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response[str]:
    # The task list and the check page keep the names they had before the steps existed.
    template = {"tasks": "dossiers/apply.html", "review": "dossiers/review.html"}.get(step)
    return page(
        request,
        template or f"dossiers/apply_{step}.html",
        status_code=status_code,
        procedure=application.procedure,
        citizen=application.citizen,
        draft=application.draft,
        files=application.files,
        progress=application.progress,
        step=step,
        back=back,
        errors=errors or {},
        upload_max_mb=upload_max_mb(tenant),
        masked_personal_id=mask_personal_id(application.citizen.personal_id),
        **context,
    )


def _answers_page(
    request: HttpRequest,
    tenant: Tenant,
    application: _Application,
    *,
    back: bool,
    result: FormResult | None = None,
    status_code: int = 200,
) -> Response[str]:
    raw = result.raw if result is not None else {k: str(v) for k, v in application.draft.data.items()}
    return _step_page(
        request,
        tenant,
        application,
        "answers",
        back=back,
        errors=dict(result.errors) if result is not None else {},
        status_code=status_code,
        fields=application.definition,
        shown={f["name"] for f in visible(application.definition, raw)},
        values=raw,
    )


async def _documents_page(
    request: HttpRequest,
    tenant: Tenant,
    session: AsyncSession,
    application: _Application,
    *,
    back: bool,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[str]:
    return _step_page(
        request,
        tenant,
        application,
        "documents",
        back=back,
        errors=errors,
        status_code=status_code,
        stored=await document_store(session, application.citizen.id),
    )


async def _delivery_page(
    request: HttpRequest,
    tenant: Tenant,
    session: AsyncSession,
    application: _Application,
    *,
    back: bool,
    choice: DeliveryChoice | None = None,
    posted_unit: str | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[str]:
    draft = application.draft
    groups: list[tuple[str, list[Any]]] = []
    chosen_unit: int | None = None
    if application.commune_needed:
        units = await communes(session)
        groups = [
            (kind.label, members)
            for kind in UnitKind
            if (members := [u for u in units if u.kind == kind.value])
        ]
        if posted_unit is not None:
            chosen_unit = _unit_id(posted_unit)
        elif draft.receiving_unit_id is not None:
            chosen_unit = draft.receiving_unit_id
        elif (named := unit_in_address(units, application.citizen.address)) is not None:
            chosen_unit = named.id  # what the e-ID address names, to confirm
    return _step_page(
        request,
        tenant,
        application,
        "delivery",
        back=back,
        errors={**(choice.errors if choice is not None else {}), **(errors or {})},
        status_code=status_code,
        commune_groups=groups,
        chosen_unit=chosen_unit,
        methods=list(Delivery),
        chosen=(choice.method.value if choice.method else "")
        if choice is not None
        else draft.delivery_method,
        postal_address=(choice.postal_address if choice is not None else draft.postal_address)
        or application.citizen.address
        or "",
    )


def _unit_id(value: object) -> int | None:
    text = str(value or "")
    return row_id(text)


async def _review_page(
    request: HttpRequest,
    tenant: Tenant,
    session: AsyncSession,
    application: _Application,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[str]:
    answers = application.progress.answers
    return _step_page(
        request,
        tenant,
        application,
        "review",
        errors=errors,
        status_code=status_code,
        answers=[
            (f, answers.raw[f["name"]])
            for f in visible(application.definition, answers.raw)
            if answers.raw[f["name"]]
        ],
        delivery=Delivery(application.draft.delivery_method or Delivery.DESK),
        receiving_unit=await unit_name(session, application.draft.receiving_unit_id)
        if application.commune_needed
        else None,
    )


def _from_review(value: object) -> bool:
    return str(value or "") == FROM_REVIEW


@get("/procedures/{code:str}/apply", guards=[requires_login], include_in_schema=False)
async def apply_form(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
) -> Response[str]:
    """The task list: the five steps and which are done."""
    return _step_page(request, tenant, await _application(db_session, code, user), "tasks")


@get("/procedures/{code:str}/apply/applicant", guards=[requires_login], include_in_schema=False)
async def apply_applicant(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
) -> Response[str]:
    return _step_page(request, tenant, await _application(db_session, code, user), "applicant")


@get("/procedures/{code:str}/apply/answers", guards=[requires_login], include_in_schema=False)
async def apply_answers(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
    came_from: Annotated[str | None, QueryParameter(name="from")] = None,
) -> Response[str]:
    application = await _application(db_session, code, user)
    return _answers_page(request, tenant, application, back=_from_review(came_from))


@post("/procedures/{code:str}/apply/draft", guards=[requires_login], include_in_schema=False, status_code=200)
async def autosave_draft(
    request: HttpRequest,
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
    return page(request, "dossiers/draft_saved.html", saved=datetime.now(VIETNAM))


@post("/procedures/{code:str}/apply", guards=[requires_login], include_in_schema=False, status_code=303)
async def apply_continue(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
    data: FormData,
) -> Response[Any]:
    """Step 2 saved: the answers as typed are kept whatever their errors."""
    application = await _application(db_session, code, user)
    await save_draft(db_session, application.draft, application.definition, data)
    today = datetime.now(VIETNAM).date()
    result = validate(application.definition, data, today=today)
    application.progress = progress_of(
        application.procedure,
        application.definition,
        application.draft,
        application.files,
        today=today,
        commune_needed=application.commune_needed,
    )
    back = _from_review(data.get("from"))
    if not result.ok:
        return _answers_page(request, tenant, application, back=back, result=result, status_code=400)
    return _next(application, "answers", back)


@get("/procedures/{code:str}/apply/documents", guards=[requires_login], include_in_schema=False)
async def apply_documents(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
    came_from: Annotated[str | None, QueryParameter(name="from")] = None,
) -> Response[str]:
    application = await _application(db_session, code, user)
    return await _documents_page(request, tenant, db_session, application, back=_from_review(came_from))


@post(
    "/procedures/{code:str}/apply/documents",
    guards=[requires_login],
    include_in_schema=False,
    status_code=303,
)
async def documents_continue(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
    data: FormData,
) -> Response[Any]:
    """ "Tiếp tục" after the uploads: on only when every required document is attached."""
    application = await _application(db_session, code, user)
    back = _from_review(data.get("from"))
    if application.progress.missing:
        return await _documents_page(
            request,
            tenant,
            db_session,
            application,
            back=back,
            errors=application.progress.missing,
            status_code=400,
        )
    return _next(application, "documents", back)


def _document_code(application: _Application, document: str) -> str:
    if document not in {d["code"] for d in application.procedure.documents}:
        raise NotFoundException()
    return document


def _back_to_documents(application: _Application, document: str, back: bool) -> Redirect:
    return Redirect(_step_url(application, "documents", back=back, anchor=f"doc-{document}"), status_code=303)


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
    application = await _application(db_session, code, user)
    document = _document_code(application, document)
    back = _from_review(data.get("from"))
    try:
        validated, stored = await receive_upload(storage, tenant, data)
    except UploadRejectedError as exc:
        return await _documents_page(
            request,
            tenant,
            db_session,
            application,
            back=back,
            errors={f"doc:{document}": str(exc)},
            status_code=400,
        )
    await attach_file(db_session, application.draft, document, validated, stored)
    return _back_to_documents(application, document, back)


@post(
    "/procedures/{code:str}/apply/files/{document:str}/remove",
    guards=[requires_login],
    include_in_schema=False,
    status_code=303,
)
async def remove_document(
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
    document: FromPath[str],
    data: FormData,
) -> Response[Any]:
    """ "Xoá": only ever a file of the signed-in citizen's own draft."""
    application = await _application(db_session, code, user)
    document = _document_code(application, document)
    await detach_file(db_session, application.draft, document)
    return _back_to_documents(application, document, _from_review(data.get("from")))


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
    application = await _application(db_session, code, user)
    document = _document_code(application, document)
    back = _from_review(data.get("from"))
    try:
        await reuse_document(
            db_session, storage, tenant, application.draft, document, str(data.get("file_id", ""))
        )
    except DossierError as exc:
        return await _documents_page(
            request,
            tenant,
            db_session,
            application,
            back=back,
            errors={f"doc:{document}": str(exc)},
            status_code=400,
        )
    return _back_to_documents(application, document, back)


@get("/procedures/{code:str}/apply/delivery", guards=[requires_login], include_in_schema=False)
async def apply_delivery(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
    came_from: Annotated[str | None, QueryParameter(name="from")] = None,
) -> Response[str]:
    application = await _application(db_session, code, user)
    return await _delivery_page(request, tenant, db_session, application, back=_from_review(came_from))


@post(
    "/procedures/{code:str}/apply/delivery",
    guards=[requires_login],
    include_in_schema=False,
    status_code=303,
)
async def delivery_continue(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
    data: FormData,
) -> Response[Any]:
    application = await _application(db_session, code, user)
    back = _from_review(data.get("from"))
    choice = check_delivery(data)
    posted_unit = str(data.get("receiving_unit_id") or "")[:20]
    errors: dict[str, str] = {}
    if application.commune_needed:
        try:
            await commune_choice(db_session, _unit_id(posted_unit))
        except RouteInputError as exc:
            errors = exc.errors
    if not choice.ok or errors:
        return await _delivery_page(
            request,
            tenant,
            db_session,
            application,
            back=back,
            choice=choice,
            posted_unit=posted_unit if application.commune_needed else None,
            errors=errors,
            status_code=400,
        )
    if application.commune_needed:
        await save_commune(db_session, application.draft, _unit_id(posted_unit))
    await save_delivery(db_session, application.draft, choice)
    return _next(application, "delivery", back)


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
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
) -> Response[Any]:
    """Check answers: reachable once every step is done, else the first step still to do."""
    application = await _application(db_session, code, user)
    if not application.progress.ready:
        return Redirect(_step_url(application, application.progress.next_step), status_code=303)
    return await _review_page(request, tenant, db_session, application)


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
    sessions: NamedDependency[SessionStore],
    signing: NamedDependency[Signing],
    code: FromPath[str],
    data: FormData,
) -> Response[Any]:
    procedure = await _procedure(db_session, code)
    citizen = await _citizen(db_session, user)
    if not declared(data):
        application = await _application(db_session, code, user)
        if not application.progress.ready:
            return Redirect(_step_url(application, application.progress.next_step), status_code=303)
        return await _review_page(
            request,
            tenant,
            db_session,
            application,
            errors={"declaration": MISSING_DECLARATION},
            status_code=400,
        )
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
        # The answers no longer pass (the draft changed in another tab): back to what to fix.
        application = await _application(db_session, code, user)
        if "receiving_unit_id" in outcome.errors:
            # The commune chosen was closed meanwhile (or never was one): choose again.
            return await _delivery_page(
                request,
                tenant,
                db_session,
                application,
                back=True,
                posted_unit="",
                errors={"receiving_unit_id": outcome.errors["receiving_unit_id"]},
                status_code=400,
            )
        if not outcome.ok and not application.progress.answers.ok:
            return _answers_page(
                request, tenant, application, back=True, result=application.progress.answers, status_code=400
            )
        return await _documents_page(
            request, tenant, db_session, application, back=True, errors=outcome.errors, status_code=400
        )
    # The slip is issued now: signed and filed with the dossier (queued if the signer fails).
    await issue_signed_slip(
        db_session, tenant, outcome.dossier, signing=signing, origin=public_origin(request)
    )
    # The navigation's "Hồ sơ của tôi" count (kept in the session) includes the new dossier.
    await sessions.set_dossier_count(user, await count_my_dossiers(db_session, citizen.id))
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
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    sessions: NamedDependency[SessionStore],
) -> Response[str]:
    dossiers = await my_dossiers(db_session, user.citizen_id or 0)
    # The navigation's count, kept in the session (written only when it changed); the list
    # stops at 200, the count does not.
    shown = len(dossiers)
    await sessions.set_dossier_count(
        user, shown if shown < 200 else await count_my_dossiers(db_session, user.citizen_id or 0)
    )
    return page(
        request,
        "dossiers/mine.html",
        dossiers=dossiers,
        tones={d.code: status_tone(d.status) for d in dossiers},
        todos={d.code: todo_of(d.status) for d in dossiers},
        todo_words=TODO_WORDS,
        vietnam=VIETNAM,
    )


@get("/my/dossiers/{code:str}", guards=[requires_login], include_in_schema=False, opt={NO_TRANSACTION: True})
async def my_dossier(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    fees: Fees,
    code: FromPath[str],
) -> Response[str]:
    return await _detail(request, tenant, fees, db_session, code=code[:80], citizen_id=user.citizen_id or 0)


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
    just_submitted: Annotated[bool, QueryParameter(name=JUST_SUBMITTED)] = False,
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
        receiving_unit=await unit_name(db_session, dossier.receiving_unit_id),
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
    signing: NamedDependency[Signing],
    code: FromPath[str],
) -> Response[bytes]:
    dossier = await _mine(user, db_session, code)
    filed = await filed_slip(db_session, dossier.id) if language(request) == DEFAULT_LANGUAGE else None
    if filed is not None:
        # The signed original, as filed when the dossier was received.
        pdf = await signed_bytes(signing, tenant, filed)
    else:
        files = await slip_files(db_session, dossier.id)
        procedure = await db_session.get(Procedure, dossier.procedure_id)
        slip = _slip_data(request, tenant, dossier, files, procedure)
        # Its labels in the language of whoever downloads it.
        pdf = await anyio.to_thread.run_sync(render_slip_pdf, slip, language(request))
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
            DossierFile.id == file_id[:32],
            DossierFile.citizen_id == (user.citizen_id or 0),
            released_to_applicant(),
        )
    )
    return await _send_file(storage, tenant, file)


async def _send_file(
    storage: Storage,
    tenant: Tenant,
    file: DossierFile | None,
    *,
    policy: str = "default-src 'none'; sandbox",
    framed: bool = False,
) -> Stream:
    if file is None:
        raise NotFoundException()
    # Opened before the response starts, so a missing object is still a 404; then sent in the
    # storage's chunks (a bucket's object is never held whole in memory).
    chunks = await storage.open(tenant.schema, file.storage_key)
    headers = {
        "content-disposition": "inline",
        "x-content-type-options": "nosniff",
        "cache-control": "private, no-store",
        "content-security-policy": policy,
    }
    if framed:
        headers["x-frame-options"] = "SAMEORIGIN"
    return Stream(chunks, media_type=file.media_type, headers=headers)


async def _detail(
    request: HttpRequest,
    tenant: Tenant,
    fees: FeesPanel,
    session: AsyncSession,
    *,
    code: str,
    citizen_id: int,
    **extra: Any,
) -> Response[str]:
    view = await dossier_page(session, tenant, fees, code=code, citizen_id=citizen_id)
    if view is None:
        raise NotFoundException()
    return page(
        request,
        "dossiers/detail.html",
        status_code=extra.pop("status_code", 200),
        dossier=view.dossier,
        view=view,
        fees=view.fees,
        status_tone=status_tone(view.dossier.status),
        vietnam=VIETNAM,
        error=extra.pop("error", None),
        forms=view.forms,
        form_labels=FORM_LABELS,
    )


async def _detail_refusing(
    request: HttpRequest,
    tenant: Tenant,
    fees: FeesPanel,
    session: AsyncSession,
    dossier: Dossier,
    status_code: int,
    error: str,
) -> Response[str]:
    """The dossier page again, saying why what the applicant sent from it was refused."""
    return await _detail(
        request,
        tenant,
        fees,
        session,
        code=dossier.code,
        citizen_id=dossier.citizen_id,
        status_code=status_code,
        error=error,
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
        return await _detail_refusing(
            request, tenant, fees, db_session, dossier, 409, "Hồ sơ này không có yêu cầu bổ sung."
        )
    try:
        validated, stored = await receive_upload(storage, tenant, data)
    except UploadRejectedError as exc:
        return await _detail_refusing(request, tenant, fees, db_session, dossier, 400, str(exc))
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
        return await _detail_refusing(request, tenant, fees, db_session, dossier, 409, str(exc))
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
@get("/tracking", include_in_schema=False)
async def tracking_page(
    request: HttpRequest,
    raw_reads: NamedDependency[RawReads],
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
        status = await public_status(raw_reads, searched)
    return page(
        request,
        "dossiers/tracking.html",
        status_code=404 if searched and status is None else 200,
        code=searched,
        status=status,
        # The status alone (no history on this public page): an ended dossier is placed after
        # the last milestone it surely passed.
        steps=stepper(status.status) if status is not None else [],
        status_tone=status_tone(status.status) if status is not None else "",
        limited=False,
    )


@get(
    "/api/v1/tracking/{code:str}",
    tags=["tracking"],
    summary="Public status of a dossier by its code",
    # One budget with the tracking page: the two forms of one lookup.
    guards=[limited("lookup")],
    operation_class=Refusable,
    responses={
        404: ResponseSpec(dict[str, str], description="No such dossier here.", generate_examples=False),
        429: ResponseSpec(dict[str, Any], description="Too many lookups.", generate_examples=False),
    },
)
async def api_tracking(raw_reads: NamedDependency[RawReads], code: FromPath[str]) -> Response[dict[str, Any]]:
    """Status and dates only, never personal data. Unknown code (or one of another portal) → 404."""
    status = await public_status(raw_reads, code[:80])
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
        apply_applicant,
        apply_answers,
        apply_documents,
        documents_continue,
        apply_delivery,
        delivery_continue,
        remove_document,
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
        withdraw,
        supplement_file,
        supplement_answer,
        tracking_page,
        api_tracking,
    ],
)
