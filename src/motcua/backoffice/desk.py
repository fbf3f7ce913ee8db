"""Dossiers an officer receives at the one-stop desk (walk-in) or by post: /officer/receive.

The officer picks the procedure, types the applicant and the procedure's current form, and
attaches the documents as scanned (each marked digitised, Decree 107/2021), in one multipart
post. ``dossiers.intake.receive_dossier`` then gives it the same code, due date, history and
slip as an online dossier. Every file is checked by content before anything is stored, and the
answers before any file is: a refused intake writes nothing and leaves no file behind.

An officer holding reception at several units (the service centre and a ward) chooses where the
dossier is received ("Nơi tiếp nhận", their first unit preselected): the dossier's code carries
that unit's agency code. A unit where they hold no reception role is refused, nothing written."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Annotated, Any

import anyio.to_thread
from litestar import get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Response
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.backoffice.services import officer_dossier
from motcua.catalog.models import Procedure
from motcua.catalog.services import get_procedure, list_procedures, search
from motcua.core.audit import Actor
from motcua.core.digits import row_id
from motcua.core.pages import HttpRequest, client_address, language, page, public_origin
from motcua.core.tenant import Tenant
from motcua.core.theming import DEFAULT_LANGUAGE
from motcua.dossiers.deadlines import VIETNAM
from motcua.dossiers.forms import visible
from motcua.dossiers.intake import Applicant, IntakeDocument, IntakeErrors, intake_problems, receive_dossier
from motcua.dossiers.models import Channel, Dossier
from motcua.dossiers.services import (
    UPLOAD_REQUEST_LIMIT,
    files_of,
    form_definition,
    read_upload,
    slip_files,
    upload_max_mb,
)
from motcua.dossiers.slip import channel_words, filed_slip, issue_signed_slip, render_slip_pdf, slip_for
from motcua.dossiers.storage import Storage, StoredObject
from motcua.dossiers.uploads import UploadRejectedError, ValidatedUpload
from motcua.identity.guards import requires_officer
from motcua.identity.sessions import UserSession
from motcua.organisation.routing import NOT_YOUR_DESK, reception_units
from motcua.signing.services import Signing, signed_bytes

# One post carries every document of the dossier: room for several files at the largest size a
# tenant may allow. Every other request keeps the app's small limit.
DESK_REQUEST_LIMIT = 4 * UPLOAD_REQUEST_LIMIT
# A text field of the form; anything longer is not typed by a person.
TEXT_MAX = 10_000
DESK_CHANNELS = {"in_person": Channel.IN_PERSON, "postal": Channel.POSTAL}
APPLICANT_FIELDS = ("personal_id", "full_name", "phone", "email", "address")
REFILE_NOTE = "Vì lý do an toàn, trình duyệt không giữ lại tệp đã chọn: vui lòng chọn lại các tệp giấy tờ."
CHOOSE_PROCEDURE = "Chọn thủ tục hành chính của hồ sơ."
CHOOSE_CHANNEL = "Chọn kênh tiếp nhận: trực tiếp tại Bộ phận Một cửa hoặc qua dịch vụ bưu chính."


def _anchor(key: str) -> str:
    """The id of the input an error is about: ``applicant.full_name`` → ``applicant-full_name``."""
    return key.replace(".", "-")


async def _chooser(
    request: HttpRequest,
    session: AsyncSession,
    query: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response[str]:
    catalog = await list_procedures(session)
    found = search(catalog, query, per_page=50) if query else None
    return page(
        request,
        "backoffice/receive_choose.html",
        status_code=status_code,
        query=query,
        found=found,
        procedures=sorted(catalog, key=lambda p: p.name),
        summary=[("procedure", error)] if error else [],
    )


async def _form(
    request: HttpRequest,
    tenant: Tenant,
    session: AsyncSession,
    procedure: Procedure,
    *,
    values: dict[str, str] | None = None,
    applicant: dict[str, str] | None = None,
    channel: str = "in_person",
    digitised: set[str] | None = None,
    errors: dict[str, str] | None = None,
    files_chosen: bool = False,
    status_code: int = 200,
    desks: list[tuple[int, str]] | None = None,
    desk: str = "",
) -> Response[str]:
    definition = await form_definition(session, procedure.id, procedure.form_version)
    values = values or {}
    errors = errors or {}
    summary = [(_anchor(key), message) for key, message in errors.items()]
    if errors and files_chosen:
        summary.append(("documents", REFILE_NOTE))
    return page(
        request,
        "backoffice/receive.html",
        status_code=status_code,
        procedure=procedure,
        fields=definition,
        shown={f["name"] for f in visible(definition, values)},
        values=values,
        # The form's own fields, keyed by field name, as the shared partial reads them.
        errors={k.removeprefix("data."): v for k, v in errors.items() if k.startswith("data.")},
        problems={_anchor(k): v for k, v in errors.items() if not k.startswith("data.")},
        field_prefix="data-",
        summary=summary,
        applicant=applicant or {},
        channel=channel,
        channels=[(key, value.label) for key, value in DESK_CHANNELS.items()],
        digitised={str(d["code"]) for d in procedure.documents} if digitised is None else digitised,
        upload_max_mb=upload_max_mb(tenant),
        # "Nơi tiếp nhận": shown when there is a choice (the first preselected).
        desks=desks or [],
        desk=desk or (str(desks[0][0]) if desks else ""),
    )


async def _desks(session: AsyncSession, user: UserSession) -> list[tuple[int, str]]:
    """The units where the officer holds reception: (id, name), their first first."""
    return [(u.id, u.name) for u in await reception_units(session, user.personal_id)]


@get("/officer/receive", guards=[requires_officer], include_in_schema=False)
async def receive_page(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    q: FromQuery[str | None] = None,
    procedure: FromQuery[str | None] = None,
) -> Response[str]:
    """Without a procedure: find and choose one. With one: its intake form."""
    if procedure:
        chosen = await get_procedure(db_session, procedure[:60])
        if chosen is None:
            return await _chooser(request, db_session, "", error=CHOOSE_PROCEDURE, status_code=404)
        return await _form(request, tenant, db_session, chosen, desks=await _desks(db_session, user))
    return await _chooser(request, db_session, (q or "").strip()[:200])


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if not isinstance(value, str) or len(value) > TEXT_MAX or "\x00" in value:
        # Not what the page's form sends: a repeated field, a file where text belongs, a NUL.
        raise ClientException("malformed intake form")
    return value.strip()


def _upload(data: dict[str, Any], name: str) -> UploadFile | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, UploadFile):
        raise ClientException("malformed intake form")
    # A file input left empty is sent as a part with no file name.
    return value if value.filename else None


@post(
    "/officer/receive",
    guards=[requires_officer],
    include_in_schema=False,
    request_max_body_size=DESK_REQUEST_LIMIT,
)
async def receive(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    storage: NamedDependency[Storage],
    signing: NamedDependency[Signing],
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
) -> Response[Any]:
    procedure = await get_procedure(db_session, _text(data, "procedure")[:60])
    if procedure is None:
        return await _chooser(request, db_session, "", error=CHOOSE_PROCEDURE, status_code=400)
    definition = await form_definition(db_session, procedure.id, procedure.form_version)
    values = {str(f["name"]): _text(data, f"data-{f['name']}") for f in definition}
    typed = {name: _text(data, f"applicant-{name}") for name in APPLICANT_FIELDS}
    applicant = Applicant(
        personal_id=typed["personal_id"].replace(" ", ""),
        full_name=typed["full_name"],
        phone=typed["phone"] or None,
        email=typed["email"] or None,
        address=typed["address"] or None,
    )
    channel_key = _text(data, "channel")
    digitised = {str(d["code"]) for d in procedure.documents if _text(data, f"digitised-{d['code']}")}
    desks = await _desks(db_session, user)
    desk = _text(data, "receiving_unit_id")

    errors: dict[str, str] = {}
    if channel_key not in DESK_CHANNELS:
        errors["channel"] = CHOOSE_CHANNEL
    # Absent: the officer's first desk (the form has no choice for one desk). Anything else must
    # be one of theirs, checked before a file is stored (and again when the dossier is routed).
    desk_unit_id = row_id(desk)
    if desk and desk_unit_id not in {unit_id for unit_id, _ in desks}:
        errors["receiving_unit_id"] = NOT_YOUR_DESK
    uploads: dict[str, ValidatedUpload] = {}
    chosen_any = False
    for document in procedure.documents:
        code = str(document["code"])
        upload = _upload(data, f"documents-{code}")
        if upload is None:
            continue
        chosen_any = True
        try:
            uploads[code] = await read_upload(tenant, {"file": upload})
        except UploadRejectedError as exc:
            errors[f"documents.{code}"] = str(exc)
    received_at = datetime.now(VIETNAM)
    # A document whose file was refused is reported as such, not also as missing.
    offered = set(uploads) | {k.removeprefix("documents.") for k in errors if k.startswith("documents.")}
    problems, _ = await intake_problems(
        db_session,
        procedure=procedure,
        applicant=applicant,
        data=values,
        document_codes=offered,
        today=received_at.date(),
    )
    errors = {**problems.errors, **errors}

    async def again(found: dict[str, str]) -> Response[str]:
        return await _form(
            request,
            tenant,
            db_session,
            procedure,
            values=values,
            applicant=typed,
            channel=channel_key,
            digitised=digitised,
            errors=found,
            files_chosen=chosen_any,
            status_code=400,
            desks=desks,
            desk=desk,
        )

    if errors:
        return await again(errors)

    stored: list[StoredObject] = []
    try:
        documents = []
        for code, checked in uploads.items():
            kept = await storage.put(tenant.schema, checked.data, media_type=checked.detected.media_type)
            stored.append(kept)
            documents.append(
                IntakeDocument(document_code=code, upload=checked, stored=kept, digitised=code in digitised)
            )
        outcome = await receive_dossier(
            db_session,
            tenant,
            procedure=procedure,
            applicant=applicant,
            data=values,
            documents=documents,
            channel=DESK_CHANNELS[channel_key],
            actor=Actor.officer(user.personal_id, address=client_address(request)),
            submitted_by_citizen=False,
            now=received_at,
            desk_unit_id=desk_unit_id,
        )
    except BaseException:
        await _discard(storage, tenant, stored)
        raise
    if isinstance(outcome, IntakeErrors):
        # Refused after all (the catalogue changed in between): no row refers to the files.
        await _discard(storage, tenant, stored)
        return await again(outcome.errors)
    # The slip the officer prints now: signed and filed with the dossier (queued if the signer
    # fails), with the contact the officer wrote down (intake keeps it with the dossier).
    await issue_signed_slip(
        db_session, tenant, outcome.dossier, signing=signing, origin=public_origin(request)
    )
    return Redirect(f"/officer/receive/{outcome.dossier.code}", status_code=303)


async def _discard(storage: Storage, tenant: Tenant, stored: list[StoredObject]) -> None:
    for kept in stored:
        with contextlib.suppress(OSError):  # already gone: nothing refers to it either way
            await storage.delete(tenant.schema, kept.key)


async def _dossier(session: AsyncSession, code: str, user: UserSession) -> Dossier:
    dossier = await officer_dossier(session, code, user)
    if dossier is None:
        raise NotFoundException()
    return dossier


@get("/officer/receive/{code:str}", guards=[requires_officer], include_in_schema=False)
async def received(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    code: FromPath[str],
) -> Response[str]:
    """What the officer hands over: the code, the due date and the slip to print."""
    dossier = await _dossier(db_session, code, user)
    return page(
        request,
        "backoffice/receive_done.html",
        dossier=dossier,
        channel=channel_words(dossier),
        files=await files_of(db_session, dossier.id),
        vietnam=VIETNAM,
    )


@get("/officer/dossiers/{code:str}/slip.pdf", guards=[requires_officer], include_in_schema=False)
async def officer_slip_pdf(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    signing: NamedDependency[Signing],
    code: FromPath[str],
) -> Response[bytes]:
    """The same slip the citizen downloads online, with the contact the officer wrote down: the
    signed original once filed (in Vietnamese), else drawn in the reader's language."""
    dossier = await _dossier(db_session, code, user)
    filed = await filed_slip(db_session, dossier.id) if language(request) == DEFAULT_LANGUAGE else None
    if filed is not None:
        pdf = await signed_bytes(signing, tenant, filed)
    else:
        slip = slip_for(
            dossier,
            await slip_files(db_session, dossier.id),
            await db_session.get(Procedure, dossier.procedure_id),
            tenant_name=tenant.name,
            tracking_url=f"{public_origin(request)}/tracking?code={dossier.code}",
        )
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


HANDLERS = [receive_page, receive, received, officer_slip_pdf]
