"""The citizen side of a dossier: draft, attach, submit, track, withdraw.

Writes follow the house rule: validate, change state and append history in one transaction;
side effects (the notification job) only after commit, by the caller.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Protocol

from litestar.datastructures import UploadFile
from sqlalchemy import ColumnElement, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from motcua.catalog.models import Procedure, ProcedureForm
from motcua.core.actions import emit
from motcua.core.audit import Actor
from motcua.core.db import RawReads, TenantQuery, fetch_row
from motcua.core.events import DossierEvent
from motcua.core.messages import Message
from motcua.core.nested import Nested
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import VIETNAM, DurationUnit, Pause, WorkCalendar, due_date, reception_deadline
from motcua.dossiers.forms import DeliveryChoice, FormResult, validate
from motcua.dossiers.lifecycle import Action, DossierError, transition
from motcua.dossiers.models import (
    WITHDRAWABLE,
    Channel,
    Delivery,
    Dossier,
    DossierDraft,
    DossierFile,
    DossierHistory,
    DossierSequence,
    DossierStatus,
    entered_by_officer,
)
from motcua.dossiers.storage import Storage, StoredObject
from motcua.dossiers.uploads import UploadRejectedError, ValidatedUpload, validate_upload
from motcua.identity.models import Citizen
from motcua.organisation.routing import RouteInputError, commune_choice, dossier_agency_code, route_dossier
from motcua.signing.models import DocumentKind, SignedDocument


def calendar_for(tenant: Tenant) -> WorkCalendar:
    return WorkCalendar.from_config(tenant.settings.get("working_calendar") or {})


async def form_definition(session: AsyncSession, procedure_id: int, version: int) -> list[dict[str, Any]]:
    definition = await session.scalar(
        select(ProcedureForm.definition).where(
            ProcedureForm.procedure_id == procedure_id, ProcedureForm.version == version
        )
    )
    return list(definition or [])


# Drafts ----------------------------------------------------------------------------------------
async def open_draft(
    session: AsyncSession, citizen_id: int, procedure: Procedure, initial: dict[str, str]
) -> DossierDraft:
    """The citizen's draft for this procedure, created on first visit (prefilled). A draft
    keeps the form version it was started with."""
    draft = await session.scalar(
        select(DossierDraft).where(
            DossierDraft.citizen_id == citizen_id, DossierDraft.procedure_id == procedure.id
        )
    )
    if draft is not None:
        return draft
    await session.execute(
        pg_insert(DossierDraft)
        .values(
            citizen_id=citizen_id,
            procedure_id=procedure.id,
            form_version=procedure.form_version,
            data=initial,
            token=secrets.token_urlsafe(32),
        )
        .on_conflict_do_nothing()
    )
    draft = await session.scalar(
        select(DossierDraft).where(
            DossierDraft.citizen_id == citizen_id, DossierDraft.procedure_id == procedure.id
        )
    )
    assert draft is not None
    return draft


async def save_draft(
    session: AsyncSession, draft: DossierDraft, definition: list[dict[str, Any]], data: dict[str, Any]
) -> None:
    # Only the form's own fields, as typed (no validation: a draft may be half-filled).
    names = {f["name"] for f in definition}
    kept = {k: str(v)[:5000] for k, v in data.items() if k in names}
    await session.execute(
        update(DossierDraft).where(DossierDraft.id == draft.id).values(data=kept, updated_at=func.now())
    )
    draft.data = kept


async def attach_file(
    session: AsyncSession,
    draft: DossierDraft,
    document_code: str,
    upload: ValidatedUpload,
    stored: StoredObject,
) -> DossierFile:
    # One file per required document: a new upload replaces the previous one.
    await session.execute(
        update(DossierFile)
        .where(DossierFile.draft_id == draft.id, DossierFile.document_code == document_code)
        .values(draft_id=None)
    )
    return await record_file(
        session, upload, stored, citizen_id=draft.citizen_id, document_code=document_code, draft_id=draft.id
    )


async def record_file(
    session: AsyncSession,
    upload: ValidatedUpload,
    stored: StoredObject,
    *,
    citizen_id: int,
    document_code: str,
    draft_id: int | None = None,
    dossier_id: int | None = None,
) -> DossierFile:
    """The database row of a stored file: the one place a file joins a draft or a dossier."""
    file = DossierFile(
        id=uuid.uuid4().hex,
        citizen_id=citizen_id,
        draft_id=draft_id,
        dossier_id=dossier_id,
        document_code=document_code,
        storage_key=stored.key,
        display_name=upload.display_name,
        media_type=upload.detected.media_type,
        size=upload.size,
        sha256=upload.sha256,
    )
    session.add(file)
    await session.flush()
    return file


async def draft_files(session: AsyncSession, draft_id: int) -> dict[str, DossierFile]:
    files = (await session.scalars(select(DossierFile).where(DossierFile.draft_id == draft_id))).all()
    return {f.document_code: f for f in files}


async def detach_file(session: AsyncSession, draft: DossierDraft, document_code: str) -> None:
    """ "Xoá": the document leaves the draft (the stored file stays, as a replaced one does, until
    the storage's own clean-up)."""
    await session.execute(
        update(DossierFile)
        .where(DossierFile.draft_id == draft.id, DossierFile.document_code == document_code)
        .values(draft_id=None)
    )


async def save_delivery(session: AsyncSession, draft: DossierDraft, choice: DeliveryChoice) -> None:
    assert choice.ok and choice.method is not None
    address = choice.postal_address if choice.method is Delivery.POST else None
    await session.execute(
        update(DossierDraft)
        .where(DossierDraft.id == draft.id)
        .values(delivery_method=choice.method.value, postal_address=address, updated_at=func.now())
    )
    draft.delivery_method, draft.postal_address = choice.method.value, address


async def save_commune(session: AsyncSession, draft: DossierDraft, unit_id: int | None) -> None:
    """ "Nơi nộp hồ sơ" of a commune-level procedure; ``RouteInputError`` when the unit is not an
    open commune, ward or special zone of this tenant (nothing written)."""
    unit = await commune_choice(session, unit_id)
    await session.execute(
        update(DossierDraft)
        .where(DossierDraft.id == draft.id)
        .values(receiving_unit_id=unit.id, updated_at=func.now())
    )
    draft.receiving_unit_id = unit.id


def missing_documents(procedure: Procedure, files: dict[str, DossierFile]) -> dict[str, str]:
    """The required documents not yet attached, as errors keyed ``doc:<code>``."""
    return {
        f"doc:{d['code']}": f"Vui lòng tải lên {d['name'][0].lower()}{d['name'][1:]}."
        for d in procedure.documents
        if d.get("required") and d["code"] not in files
    }


@dataclass(frozen=True)
class Progress:
    """Which steps of applying are done, derived from the draft alone (no state of its own):
    the applicant (from the e-ID, nothing to do), the answers, the documents, the delivery
    (with, for a commune-level procedure, the commune the dossier is sent to)."""

    answers: FormResult
    missing: dict[str, str]
    delivery_chosen: bool
    answers_started: bool
    commune_needed: bool = False
    commune_chosen: bool = False

    @property
    def done(self) -> dict[str, bool]:
        return {
            "applicant": True,
            "answers": self.answers.ok,
            "documents": not self.missing,
            "delivery": self.delivery_chosen and (self.commune_chosen or not self.commune_needed),
        }

    @property
    def ready(self) -> bool:
        return all(self.done.values())

    @property
    def next_step(self) -> str:
        """The first step not done ("review" when all are)."""
        return next((step for step, done in self.done.items() if not done), "review")


def progress_of(
    procedure: Procedure,
    definition: list[dict[str, Any]],
    draft: DossierDraft,
    files: dict[str, DossierFile],
    *,
    today: date,
    commune_needed: bool = False,
) -> Progress:
    return Progress(
        answers=validate(definition, draft.data, today=today),
        missing=missing_documents(procedure, files),
        delivery_chosen=draft.delivery_method is not None,
        answers_started=any(str(v).strip() for v in draft.data.values()),
        commune_needed=commune_needed,
        commune_chosen=draft.receiving_unit_id is not None,
    )


# Submission ------------------------------------------------------------------------------------
def fallback_agency_code(tenant: Tenant) -> str:
    """The tenant's agency code (its settings pages), else a placeholder of the code's shape."""
    return str(tenant.settings.get("agency_code") or "") or "000.00.00.X00"


async def next_code(session: AsyncSession, agency_code: str, day: date) -> str:
    """``{agency}-{yyMMdd}-{NNNN}``: the upsert locks the agency's row for the day until commit,
    so concurrent submissions get consecutive numbers, and a rolled-back one gives its back."""
    last = await session.scalar(
        pg_insert(DossierSequence)
        .values(agency_code=agency_code, day=day, last=1)
        .on_conflict_do_update(
            index_elements=[DossierSequence.agency_code, DossierSequence.day],
            set_={"last": DossierSequence.last + 1},
        )
        .returning(DossierSequence.last)
    )
    return f"{agency_code}-{day:%y%m%d}-{int(last or 0):04d}"


@dataclass(frozen=True)
class Submission:
    dossier: Dossier
    created: bool  # False when this was a repeat of an earlier submission (same token)


async def submit_dossier(
    session: AsyncSession,
    tenant: Tenant,
    *,
    citizen: Citizen,
    procedure: Procedure,
    token: str,
    actor: Actor,
    now: datetime | None = None,
) -> Submission | FormResult:
    """Turn the draft identified by ``token`` into a dossier. Returns the form errors instead
    when the answers or the required documents are not complete."""
    if actor.citizen_id != citizen.id:
        raise DossierError(Message("Bạn chỉ nộp được hồ sơ của chính mình."))
    existing = await session.scalar(select(Dossier).where(Dossier.idempotency_key == token))
    if existing is not None:
        if existing.citizen_id != citizen.id:
            raise DossierError(Message("Mã nộp hồ sơ không hợp lệ."))
        return Submission(existing, created=False)
    draft = await session.scalar(
        select(DossierDraft)
        .where(DossierDraft.token == token, DossierDraft.citizen_id == citizen.id)
        .with_for_update()
    )
    if draft is None or draft.procedure_id != procedure.id:
        # A concurrent identical submission may have just committed.
        existing = await session.scalar(select(Dossier).where(Dossier.idempotency_key == token))
        if existing is not None and existing.citizen_id == citizen.id:
            return Submission(existing, created=False)
        raise DossierError(Message("Không tìm thấy bản nháp hồ sơ; vui lòng mở lại biểu mẫu."))
    received = (now or datetime.now(VIETNAM)).astimezone(VIETNAM)
    definition = await form_definition(session, procedure.id, draft.form_version)
    checked = validate(definition, draft.data, today=received.date())
    checked.errors.update(missing_documents(procedure, await draft_files(session, draft.id)))
    if not checked.ok:
        return checked
    try:
        routing = await route_dossier(session, procedure, online=True, chosen_unit_id=draft.receiving_unit_id)
    except RouteInputError as exc:
        checked.errors.update(exc.errors)
        return checked

    calendar = calendar_for(tenant)
    # The receiving unit's agency code (organisation.routing.dossier_agency_code); a tenant
    # without units: the procedure's own, else the tenant's, else a placeholder of that shape.
    agency = dossier_agency_code(routing, procedure.agency_code, fallback_agency_code(tenant))
    code = await next_code(session, agency, received.date())
    due = due_date(calendar, received, procedure.processing_days, DurationUnit(procedure.processing_unit))
    dossier = Dossier(
        code=code,
        procedure_id=procedure.id,
        procedure_code=procedure.code,
        procedure_name=procedure.name,
        form_version=draft.form_version,
        citizen_id=citizen.id,
        applicant_name=citizen.full_name,
        applicant_personal_id=citizen.personal_id,
        status=DossierStatus.SUBMITTED,
        channel=Channel.ONLINE,
        data=checked.values,
        fee_vnd=procedure.fee_vnd,
        agency_code=agency,
        received_at=received,
        due_at=due,
        reception_due_at=reception_deadline(calendar, received),
        idempotency_key=token,
        # The web flow asks before the check page; a draft made otherwise (a script, the bench)
        # collects at the desk, as a dossier received there does.
        delivery_method=draft.delivery_method or Delivery.DESK,
        postal_address=draft.postal_address if draft.delivery_method == Delivery.POST else None,
        # The internal steps open when an officer accepts the dossier (workflow), not here.
        receiving_unit_id=routing.receiving.id if routing.receiving is not None else None,
        deciding_unit_id=routing.deciding_unit_id,
    )
    session.add(dossier)
    await session.flush()
    await session.execute(
        update(DossierFile)
        .where(DossierFile.draft_id == draft.id)
        .values(dossier_id=dossier.id, draft_id=None)
    )
    await session.execute(
        insert(DossierHistory).values(
            dossier_id=dossier.id,
            actor=str(actor),
            from_status=None,
            to_status=DossierStatus.SUBMITTED,
            reason="Nộp hồ sơ trực tuyến",
        )
    )
    await session.delete(draft)
    await tell_applicant(session, tenant, dossier, "dossier_submitted", f"{dossier.id}:submitted")
    return Submission(dossier, created=True)


# Reading and tracking ---------------------------------------------------------------------------
async def citizen_dossier(session: AsyncSession, code: str, citizen_id: int) -> Dossier | None:
    return await session.scalar(select(Dossier).where(Dossier.code == code, Dossier.citizen_id == citizen_id))


async def count_my_dossiers(session: AsyncSession, citizen_id: int) -> int:
    """The citizen's dossiers, counted (identity.sessions.DossierCounter: the navigation's count)."""
    counted = select(func.count()).select_from(Dossier).where(Dossier.citizen_id == citizen_id)
    return int(await session.scalar(counted) or 0)


async def my_dossiers(session: AsyncSession, citizen_id: int) -> list[Dossier]:
    return list(
        (
            await session.scalars(
                select(Dossier)
                .where(Dossier.citizen_id == citizen_id)
                .order_by(Dossier.created_at.desc())
                .limit(200)
            )
        ).all()
    )


async def history_of(session: AsyncSession, dossier_id: int) -> list[DossierHistory]:
    return list(
        (
            await session.scalars(
                select(DossierHistory)
                .where(DossierHistory.dossier_id == dossier_id)
                .order_by(DossierHistory.id)
            )
        ).all()
    )


async def names_of(session: AsyncSession, personal_ids: Collection[str]) -> dict[str, str]:
    """People's names by personal ID, from their latest login on this portal: one statement, none
    when there is nobody to name. (identity.services.staff_names also asks the platform's
    administrators, a second statement the citizen's pages do not need.)"""
    if not personal_ids:
        return {}
    rows = await session.execute(
        select(Citizen.personal_id, Citizen.full_name)
        .where(Citizen.personal_id.in_(sorted(personal_ids)), Citizen.full_name != "")
        .order_by(Citizen.last_login_at)
    )
    return dict(rows.all())  # the latest login is read last and wins


async def files_of(session: AsyncSession, dossier_id: int) -> list[DossierFile]:
    """Every file of the dossier, draft results included: for the office's pages (the applicant's
    page reads only those released to them, dossiers.page)."""
    return list(
        (await session.scalars(select(DossierFile).where(DossierFile.dossier_id == dossier_id))).all()
    )


async def slip_files(session: AsyncSession, dossier_id: int) -> list[DossierFile]:
    """The documents the appointment slip says were received: those the dossier came with.
    The slip is a receipt and stays as issued, so supplements and results added later are left
    out. Both times are the database's own transaction clock (uploads to the draft precede the
    submitting transaction; files received at the desk or through the API share it), never a
    time given by the caller such as ``received_at``."""
    issued = select(Dossier.created_at).where(Dossier.id == dossier_id).scalar_subquery()
    return list(
        (
            await session.scalars(
                select(DossierFile).where(
                    DossierFile.dossier_id == dossier_id, DossierFile.created_at <= issued
                )
            )
        ).all()
    )


@dataclass(frozen=True)
class PublicStatus:
    """What anyone holding the code may see: no personal data."""

    code: str
    procedure_name: str
    status: str
    status_label: str
    received_at: datetime
    due_at: datetime
    channel_label: str = ""
    entered_by_officer: bool = False


# The tracking page's one statement, sent straight through the driver (``core.db.fetch_row``):
# it is the most requested read of the portal, and the one anyone can send.
_PUBLIC_STATUS = TenantQuery(
    "SELECT code, procedure_name, status, received_at, due_at, channel, submitted_by_citizen"
    " FROM {schema}.dossiers WHERE code = $1"
)


async def public_status(reads: RawReads, code: str) -> PublicStatus | None:
    """The tracking page's and API's read."""
    row = await fetch_row(reads, _PUBLIC_STATUS, code)
    if row is None:
        return None
    return PublicStatus(
        code=row["code"],
        procedure_name=row["procedure_name"],
        status=row["status"],
        status_label=DossierStatus(row["status"]).label,
        received_at=row["received_at"].astimezone(VIETNAM),
        due_at=row["due_at"].astimezone(VIETNAM),
        channel_label=Channel(row["channel"]).label,
        entered_by_officer=entered_by_officer(row["channel"], row["submitted_by_citizen"]),
    )


async def channel_counts(
    session: AsyncSession, since: datetime, until: datetime
) -> dict[tuple[Channel, bool], int]:
    """Dossiers received in [since, until), by channel and by whether the applicant submitted
    it personally (``True``) or someone did on their behalf (an officer at the desk or from the
    post, a system): the indicators count both. Every combination is present, zeros included."""
    rows = await session.execute(
        select(Dossier.channel, Dossier.submitted_by_citizen, func.count())
        .where(Dossier.received_at >= since, Dossier.received_at < until)
        .group_by(Dossier.channel, Dossier.submitted_by_citizen)
    )
    counts = {(channel, personally): 0 for channel in Channel for personally in (True, False)}
    for channel, personally, count in rows:
        counts[(Channel(channel), bool(personally))] += int(count)
    return counts


async def withdraw_dossier(
    session: AsyncSession, tenant: Tenant, dossier: Dossier, *, actor: Actor, reason: str
) -> None:
    if dossier.citizen_id != actor.citizen_id:
        raise DossierError(Message("Bạn không thể rút hồ sơ của người khác."))
    if dossier.status not in WITHDRAWABLE:
        raise DossierError(Message("Hồ sơ đã được xử lý xong hoặc đã kết thúc, không thể rút."))
    version = dossier.version
    await transition(
        session,
        dossier,
        Action.WITHDRAW,
        actor=actor,
        reason=reason.strip()[:500] or "Công dân rút hồ sơ",
        values={"supplement": None},
    )
    await tell_applicant(session, tenant, dossier, "dossier_withdrawn", f"{dossier.id}:{version}")


# Supplements (the clock pauses while the citizen completes the dossier) -----------------------
SUPPLEMENT_FROM = frozenset({DossierStatus.ACCEPTED, DossierStatus.IN_PROGRESS})


async def request_supplement(
    session: AsyncSession,
    dossier: Dossier,
    *,
    actor: Actor,
    reason: str,
    items: list[str],
    now: datetime | None = None,
) -> None:
    """An officer asks for more documents (DOMAIN: reason and list required; clock paused)."""
    if dossier.status not in SUPPLEMENT_FROM:
        raise DossierError(Message("Chỉ yêu cầu bổ sung được khi hồ sơ đã tiếp nhận hoặc đang xử lý."))
    reason = reason.strip()
    items = [i.strip() for i in items if i.strip()]
    if not reason or not items:
        raise DossierError(Message("Yêu cầu bổ sung phải có lý do và danh sách giấy tờ cần bổ sung."))
    moment = (now or datetime.now(VIETNAM)).astimezone(VIETNAM)
    # Files sent in answer are those beyond this count (not by timestamp: clocks and the
    # request time given by the caller need not agree with the database's).
    files_before = await _supplement_file_count(session, dossier.id)
    await transition(
        session,
        dossier,
        Action.REQUEST_SUPPLEMENT,
        actor=actor,
        reason=reason,
        values={
            "supplement": {
                "reason": reason,
                "items": items,
                "requested_at": moment.isoformat(),
                "by": str(actor),
                "files_before": files_before,
            },
            "pauses": [*dossier.pauses, {"start": moment.isoformat(), "end": None}],
        },
    )


async def answer_supplement(
    session: AsyncSession,
    tenant: Tenant,
    dossier: Dossier,
    *,
    actor: Actor,
    note: str,
    now: datetime | None = None,
) -> None:
    """The citizen has uploaded what was asked: the clock resumes and the due date moves later
    by the working time the dossier waited."""
    if dossier.citizen_id != actor.citizen_id:
        raise DossierError(Message("Bạn không thể bổ sung hồ sơ của người khác."))
    if dossier.status != DossierStatus.SUPPLEMENT_REQUESTED:
        raise DossierError(Message("Hồ sơ này không có yêu cầu bổ sung đang chờ."))
    added = await _supplement_file_count(session, dossier.id) - int(
        (dossier.supplement or {}).get("files_before", 0)
    )
    if added <= 0:
        raise DossierError(Message("Vui lòng tải lên giấy tờ bổ sung trước khi gửi."))
    moment = (now or datetime.now(VIETNAM)).astimezone(VIETNAM)
    pauses = [dict(p) for p in dossier.pauses]
    pauses[-1]["end"] = moment.isoformat()
    procedure = await session.get(Procedure, dossier.procedure_id)
    assert procedure is not None
    due = due_date(
        calendar_for(tenant),
        dossier.received_at,
        procedure.processing_days,
        DurationUnit(procedure.processing_unit),
        [Pause(datetime.fromisoformat(p["start"]), datetime.fromisoformat(p["end"])) for p in pauses],
    )
    await transition(
        session,
        dossier,
        Action.ANSWER_SUPPLEMENT,
        actor=actor,
        reason=note.strip()[:500] or "Công dân đã bổ sung hồ sơ",
        values={"pauses": pauses, "supplement": None, "due_at": due},
    )


async def _supplement_file_count(session: AsyncSession, dossier_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(DossierFile)
            .where(DossierFile.dossier_id == dossier_id, DossierFile.document_code == "bo-sung")
        )
        or 0
    )


async def add_supplement_file(
    session: AsyncSession, dossier: Dossier, upload: ValidatedUpload, stored: StoredObject
) -> DossierFile:
    return await record_file(
        session, upload, stored, citizen_id=dossier.citizen_id, document_code="bo-sung", dossier_id=dossier.id
    )


# Document store (kho dữ liệu điện tử) ----------------------------------------------------------
# A result is the applicant's once it is final: signed (at the leader's approval, issue 19) or
# its dossier processed. Before, it is a draft the leader may still send back, and the
# applicant's pages, document store and downloads never show it.
RESULT_CODE = "ket-qua"
RESULT_RELEASED = frozenset({DossierStatus.PROCESSED, DossierStatus.DELIVERED})


@lru_cache(maxsize=1)
def released_to_applicant() -> ColumnElement[bool]:
    """A ``DossierFile`` the applicant may see: anything but a result, and a result once it is
    signed or its dossier processed (index probes per result file only). Built once: the alias
    alone takes milliseconds to make, on every page that lists a citizen's files."""
    # Its own alias of dossiers: callers may join the file's dossier already (the document store).
    released = aliased(Dossier)
    return or_(
        DossierFile.document_code != RESULT_CODE,
        select(released.id)
        .where(released.id == DossierFile.dossier_id, released.status.in_(tuple(RESULT_RELEASED)))
        .correlate(DossierFile)
        .exists(),
        select(SignedDocument.id)
        .where(
            SignedDocument.dossier_id == DossierFile.dossier_id,
            SignedDocument.kind == DocumentKind.RESULT.value,
            SignedDocument.sha256 == DossierFile.sha256,
        )
        .correlate(DossierFile)
        .exists(),
    )


async def document_store(session: AsyncSession, citizen_id: int) -> list[tuple[DossierFile, str]]:
    """The citizen's documents kept from earlier dossiers, results first, with the dossier
    code they came with. Reusable in a new dossier without uploading again."""
    rows = (
        await session.execute(
            select(DossierFile, Dossier.code)
            .join(Dossier, Dossier.id == DossierFile.dossier_id)
            .where(DossierFile.citizen_id == citizen_id, released_to_applicant())
            .order_by((DossierFile.document_code != RESULT_CODE), DossierFile.created_at.desc())
            .limit(500)
        )
    ).all()
    return [(f, code) for f, code in rows]


async def reuse_document(
    session: AsyncSession,
    storage: Any,
    tenant: Tenant,
    draft: DossierDraft,
    document_code: str,
    stored_file_id: str,
) -> DossierFile:
    """Attach a copy of one of the citizen's stored documents to the draft (a copy, so the
    new dossier keeps its file whatever happens to the old one)."""
    source = await session.scalar(
        select(DossierFile).where(
            DossierFile.id == stored_file_id[:32],
            DossierFile.citizen_id == draft.citizen_id,
            DossierFile.dossier_id.is_not(None),
            released_to_applicant(),
        )
    )
    if source is None:
        raise DossierError(Message("Không tìm thấy giấy tờ trong kho của bạn."))
    data = b"".join([chunk async for chunk in await storage.open(tenant.schema, source.storage_key)])
    stored = await storage.put(tenant.schema, data, media_type=source.media_type)
    from motcua.dossiers.uploads import sniff

    detected = sniff(data[:4096])
    assert detected is not None
    upload = ValidatedUpload(
        detected=detected, display_name=source.display_name, size=source.size, sha256=source.sha256, data=data
    )
    return await attach_file(session, draft, document_code, upload, stored)


# What the applicant hears about -------------------------------------------------------------------
_DEFAULT_REFUSAL = "Không đủ điều kiện tiếp nhận"


async def tell_applicant(
    session: AsyncSession, tenant: Tenant, dossier: Dossier, kind: str, key: str, **details: Any
) -> None:
    """Emit the ``DossierEvent`` that tells the applicant of a change (sent after commit).

    The event is a snapshot of this transaction: the dossier as changed, the applicant's
    contact, and what the message needs for its ``kind`` (the reason of a refusal, the items of
    a supplement request, the fee requested); callers add the rest (a receipt, a refund)."""
    await session.flush()  # the history row of the change, for a refusal's reason
    contact = (
        await session.execute(
            select(Citizen.email, Citizen.phone, Citizen.preferred_language).where(
                Citizen.id == dossier.citizen_id
            )
        )
    ).one_or_none()
    extra: dict[str, Any] = {}
    if kind == "supplement_requested" and dossier.supplement:
        extra = {
            "reason": dossier.supplement.get("reason"),
            "items": tuple(dossier.supplement.get("items", ())),
        }
    elif kind == "dossier_refused":
        reason = await session.scalar(
            select(DossierHistory.reason)
            .where(DossierHistory.dossier_id == dossier.id)
            .order_by(DossierHistory.id.desc())
            .limit(1)
        )
        extra = {"reason": reason or _DEFAULT_REFUSAL}
    elif kind == "payment_requested":
        extra = {"fee_vnd": dossier.fee_vnd}
    extra.update(details)
    await emit(
        session,
        DossierEvent(
            tenant=tenant.slug,
            kind=kind,
            key=key,
            code=dossier.code,
            procedure_name=dossier.procedure_name,
            status_label=DossierStatus(dossier.status).label,
            applicant_name=dossier.applicant_name,
            due_at=dossier.due_at,
            email=contact.email if contact is not None else None,
            phone=contact.phone if contact is not None else None,
            language=contact.preferred_language if contact is not None else "vi",
            **extra,
        ),
    )


# Uploads --------------------------------------------------------------------------------------------
DEFAULT_UPLOAD_MB = 10
# The body of a request carrying one document: the largest file a tenant may allow plus the
# multipart envelope. Every other request is capped far lower (app.REQUEST_BODY_LIMIT).
UPLOAD_REQUEST_LIMIT = 25 * 1024 * 1024


def upload_max_mb(tenant: Tenant) -> int:
    return int(tenant.settings.get("upload_max_mb", DEFAULT_UPLOAD_MB))


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(64 * 1024):
        yield chunk


async def read_upload(tenant: Tenant, data: dict[str, Any]) -> ValidatedUpload:
    """The ``file`` field of a multipart form, checked (name, size, type by content) against the
    tenant's upload limit. Shared by every route that accepts a document."""
    upload = data.get("file")
    if not isinstance(upload, UploadFile):
        raise UploadRejectedError("empty", Message("Vui lòng chọn tệp cần tải lên."))
    name = upload.filename or ""
    if "/" in name or "\\" in name or "\x00" in name or name.startswith("."):
        # Browsers send a bare file name; a path here is a crafted request.
        raise UploadRejectedError(
            "bad_name", Message("Tên tệp không hợp lệ. Vui lòng đổi tên tệp rồi tải lên lại.")
        )
    return await validate_upload(
        _chunks(upload), max_bytes=upload_max_mb(tenant) * 1024 * 1024, filename=upload.filename
    )


async def receive_upload(
    storage: Storage, tenant: Tenant, data: dict[str, Any]
) -> tuple[ValidatedUpload, StoredObject]:
    """Check the uploaded file, then store it in the tenant's storage (the database row is
    the caller's: a draft document, a supplement, a result)."""
    validated = await read_upload(tenant, data)
    stored = await storage.put(tenant.schema, validated.data, media_type=validated.detected.media_type)
    return validated, stored


# Fees, as the dossier pages show them ----------------------------------------------------------------
class FeesPanel(Protocol):
    """What the citizen's dossier pages show of fees and receipts. Payments sit above dossiers,
    so this package owns the interface, ``payments`` implements it and the app hands the
    implementation in as the ``fees`` dependency."""

    async def fee_state(self, session: AsyncSession, tenant: Tenant, dossier: Dossier) -> Any: ...

    # The citizen's dossier page reads payments and receipts inside its own statement: these
    # columns, correlated to the page's ``Dossier`` row, and the fee state their values make.
    @property
    def page_reads(self) -> tuple[Nested[Any], ...]: ...

    def fee_state_from(
        self, tenant: Tenant, dossier: Dossier, dialect: Dialect, values: Sequence[Any]
    ) -> Any: ...

    async def receipts_of_citizen(self, session: AsyncSession, citizen_id: int) -> list[Any]: ...
