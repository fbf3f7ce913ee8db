"""The one-stop desk's forms of Circular 01/2018/TT-VPCP (guiding Decree 61/2018 on the one-stop
mechanism), generated from the dossier: mẫu số 02 the supplement request, 03 the refusal, 04 the
apology with a new appointment and 05 the control sheet of the whole process (mẫu 01, the
appointment slip, is ``slip.py``; ``paper_forms_pdf`` draws these with the slip's fonts and layout).

Each form is an A4 PDF in Vietnamese or, when asked, English (labels only: names, reasons and the
procedure stay as written), carrying a QR code to the public verification page of the signed copy.
The document id is chosen before drawing, because the QR code is part of what is signed; the
signing and filing themselves are the ``signing`` package's (``file_paper_form``).

Workflow steps sit above dossiers in the layers: the control sheet takes them as plain
``HandOver`` values from its caller and never reads the workflow's tables.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.models import Procedure
from motcua.core.messages import Message, message_from_json
from motcua.core.tenant import Tenant
from motcua.core.theming import DEFAULT_LANGUAGE
from motcua.dossiers.lifecycle import Action
from motcua.dossiers.models import ApologySlip, Dossier, DossierHistory, DossierStatus
from motcua.dossiers.services import history_of, names_of
from motcua.dossiers.slip import VIETNAM_TZ, Gettext, nfc
from motcua.dossiers.words import Who, history_in_words, personal_ids_in
from motcua.identity.models import N_
from motcua.identity.schemas import mask_personal_id
from motcua.organisation.models import Unit
from motcua.signing.models import DocumentKind, SignedDocument
from motcua.signing.services import Signing, new_document_id, sign_and_file, verification_url

S = DossierStatus


class FormKind(enum.StrEnum):
    """The forms by their number in Circular 01/2018; the value is the ``DocumentKind`` they
    are filed under in the signed documents' register."""

    SUPPLEMENT_REQUEST = DocumentKind.SUPPLEMENT_REQUEST.value
    REFUSAL = DocumentKind.REFUSAL.value
    APOLOGY = DocumentKind.APOLOGY.value
    CONTROL_SHEET = DocumentKind.CONTROL_SHEET.value

    @property
    def number(self) -> str:
        return _NUMBERS[self]

    @property
    def label(self) -> str:
        return _TITLES[self]


_NUMBERS = {
    FormKind.SUPPLEMENT_REQUEST: "02",
    FormKind.REFUSAL: "03",
    FormKind.APOLOGY: "04",
    FormKind.CONTROL_SHEET: "05",
}
_TITLES = {
    FormKind.SUPPLEMENT_REQUEST: N_("PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ"),
    FormKind.REFUSAL: N_("PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ"),
    FormKind.APOLOGY: N_("PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ"),
    FormKind.CONTROL_SHEET: N_("PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ"),
}

# Where the paper form has "(Ký, ghi rõ họ tên)": these are signed digitally, and the signature's
# visible appearance is drawn by the signing service.
SIGNED_DIGITALLY = N_("(Đã ký số)")

# The hand-over's result column (mẫu 05: trước hạn / đúng hạn / quá hạn).
EARLY = N_("Trước hạn")
ON_TIME = N_("Đúng hạn")
LATE = N_("Quá hạn")


@dataclass(frozen=True)
class FormHeading:
    """What every form says of its dossier and of itself."""

    tenant_name: str
    agency_name: str  # the unit that received the dossier (else the procedure's agency)
    dossier_code: str
    procedure_code: str
    procedure_name: str
    applicant_name: str
    applicant_personal_id_masked: str
    received_at: datetime
    due_at: datetime
    issued_at: datetime
    document_id: str
    verification_url: str
    signer_name: str


@dataclass(frozen=True)
class SupplementRequest:
    heading: FormHeading
    items: tuple[str, ...]
    reason: str
    requested_at: datetime


@dataclass(frozen=True)
class Refusal:
    heading: FormHeading
    reason: str


@dataclass(frozen=True)
class Apology:
    heading: FormHeading
    previous_due_at: datetime
    new_due_at: datetime
    reason: str


@dataclass(frozen=True)
class HandOver:
    """One hand-over of the dossier on the control sheet. ``giver``, ``receiver``, ``result``
    and ``remark`` are data as written, or a ``Message`` that is translated when drawn."""

    at: datetime
    giver: str
    receiver: str
    result: str
    remark: str | None = None


@dataclass(frozen=True)
class ControlSheet:
    heading: FormHeading
    handovers: tuple[HandOver, ...]
    finished_at: datetime | None


PaperForm = SupplementRequest | Refusal | Apology | ControlSheet


def say(text: str, _: Gettext, lang: str) -> str:
    """A ``Message`` in the reader's language; any other text is data and stays as written (a
    name must never be looked up in the catalogue)."""
    if isinstance(text, Message):
        return nfc(text.render(_, None, lang))
    return nfc(text)


def format_form_date(moment: datetime, lang: str = DEFAULT_LANGUAGE) -> str:
    """'ngày 01 tháng 12 năm 2026' ('1 December 2026'), the date line's way, in Vietnam time."""
    local = moment.astimezone(VIETNAM_TZ)
    if lang == "en":
        return f"{local.day} {local:%B %Y}"
    return f"ngày {local:%d} tháng {local:%m} năm {local:%Y}"


def short_time(moment: datetime) -> str:
    """'08:15 01/12/2026' in Vietnam time: a table cell's width, the same in either language."""
    return f"{moment.astimezone(VIETNAM_TZ):%H:%M %d/%m/%Y}"


def timeliness(at: datetime, due_at: datetime) -> str:
    """Mẫu 05's result of a hand-over: before the due day, on it (not after the due time), late."""
    if at > due_at:
        return Message(LATE)
    if at.astimezone(VIETNAM_TZ).date() < due_at.astimezone(VIETNAM_TZ).date():
        return Message(EARLY)
    return Message(ON_TIME)


# Drawing (paper_forms_pdf) ----------------------------------------------------------------------
def render_paper_form(form: PaperForm, lang: str = DEFAULT_LANGUAGE) -> bytes:
    """The form as a PDF with its labels in ``lang`` (the same form and language give the same
    bytes: the document's date is its own, never the clock)."""
    # fpdf2 on the first document (slip_pdf says why).
    from motcua.dossiers.paper_forms_pdf import draw_paper_form

    return draw_paper_form(form, lang)


def kind_of(form: PaperForm) -> FormKind:
    if isinstance(form, SupplementRequest):
        return FormKind.SUPPLEMENT_REQUEST
    if isinstance(form, Refusal):
        return FormKind.REFUSAL
    if isinstance(form, Apology):
        return FormKind.APOLOGY
    return FormKind.CONTROL_SHEET


_PLACE_PREFIXES = ("Tỉnh ", "Thành phố ", "UBND tỉnh ", "UBND thành phố ")


def place_of(tenant_name: str) -> str:
    """The place on the date line: 'Tỉnh Bắc Ninh' → 'Bắc Ninh' (Decree 30/2020 writes the
    place's own name)."""
    name = nfc(tenant_name).strip()
    for prefix in _PLACE_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix) :]
    return name


# From the dossier --------------------------------------------------------------------------------
async def form_heading(
    session: AsyncSession,
    tenant: Tenant,
    dossier: Dossier,
    *,
    document_id: str,
    verification_url: str,
    issued_at: datetime,
    signer_name: str,
) -> FormHeading:
    """The heading of a form of ``dossier``: the issuing body is the unit that received it (its
    name as it is now), else the procedure's agency, else the tenant."""
    agency = await _unit_name(session, dossier.receiving_unit_id)
    if not agency:
        agency = (
            await session.scalar(select(Procedure.agency).where(Procedure.id == dossier.procedure_id)) or ""
        )
    return FormHeading(
        tenant_name=tenant.name,
        agency_name=agency or tenant.name,
        dossier_code=dossier.code,
        procedure_code=dossier.procedure_code,
        procedure_name=dossier.procedure_name,
        applicant_name=dossier.applicant_name,
        applicant_personal_id_masked=mask_personal_id(dossier.applicant_personal_id),
        received_at=dossier.received_at,
        due_at=dossier.due_at,
        issued_at=issued_at,
        document_id=document_id,
        verification_url=verification_url,
        # An officer who never gave a name (a grant before their first login) signs as the unit.
        signer_name=signer_name.strip() or agency or tenant.name,
    )


def supplement_request_of(dossier: Dossier, heading: FormHeading) -> SupplementRequest:
    """Mẫu 02 from the open supplement request (dossiers.services.request_supplement)."""
    asked = dossier.supplement
    if dossier.status != S.SUPPLEMENT_REQUESTED or not asked:
        raise ValueError(f"dossier {dossier.code} has no open supplement request")
    return SupplementRequest(
        heading=heading,
        items=tuple(str(i) for i in asked.get("items", [])),
        reason=str(asked.get("reason", "")),
        requested_at=datetime.fromisoformat(str(asked["requested_at"])),
    )


def refusal_of(history: Sequence[DossierHistory], heading: FormHeading) -> Refusal:
    """Mẫu 03 from the refusal in the history (the reason the officer gave)."""
    refused = next(
        (r for r in reversed(history) if r.to_status == S.REFUSED and r.from_status != S.REFUSED), None
    )
    if refused is None:
        raise ValueError(f"dossier {heading.dossier_code} was not refused")
    # What the officer typed; a refusal the product words itself (t0020's messages) is read in the
    # form's language.
    typed = (refused.reason or "").strip()
    return Refusal(
        heading=heading, reason=typed or (message_from_json(refused.message) if refused.message else "")
    )


def apology_of(slip: ApologySlip, heading: FormHeading) -> Apology:
    """Mẫu 04 from the apology slip the officer issued (backoffice.services.issue_apology)."""
    return Apology(
        heading=heading, previous_due_at=slip.previous_due_at, new_due_at=slip.new_due_at, reason=slip.reason
    )


def _who(person: Who) -> str:
    if person.name:
        return person.name
    if person.part:
        return Message("%(role)s (%(part)s)", role=Message(person.role), part=Message(person.part))
    return Message(person.role)


def _remark(note: str | None, said: str | None) -> str | None:
    """What the product says of a step (a message, or a msgid) and what the officer typed (data,
    as written)."""
    said_by_product = note if note is None or isinstance(note, Message) else Message(note)
    if said_by_product and said:
        return Message("%(note)s: %(said)s", note=said_by_product, said=said)
    return said_by_product or said


def handovers_from_history(
    history: Sequence[DossierHistory],
    names: Mapping[str, str],
    *,
    dossier: Dossier,
    desk: str,
    deciding: str,
) -> list[HandOver]:
    """Each step of the history as a hand-over: who gave the dossier (whoever acted), to whom it
    went (the desk, the deciding unit or the applicant, by the status it went to), what came of
    it and whether it was in time. ``desk`` and ``deciding`` are the units' names."""
    lines = history_in_words(history, names, applicant=dossier.applicant_name)
    handovers = []
    for row, line in zip(history, lines, strict=True):
        if row.from_status is None:
            receiver: str = desk
        elif row.from_status == row.to_status:
            receiver = line.subject or deciding
        elif row.to_status in (S.ACCEPTED, S.IN_PROGRESS):
            receiver = deciding
        elif row.to_status in (S.PROCESSED, S.WITHDRAWN):
            receiver = desk
        else:  # refused, supplement or payment asked, stopped, delivered: back to the applicant
            receiver = dossier.applicant_name
        # A step change's line is already a message (it names the units).
        what = line.what if isinstance(line.what, Message) else Message(line.what)
        result = Message("%(what)s, %(when)s", what=what, when=timeliness(row.at, dossier.due_at))
        handovers.append(
            HandOver(
                at=row.at,
                giver=_who(line.who),
                receiver=receiver,
                result=result,
                remark=_remark(line.note, line.said if line.said != line.subject else None),
            )
        )
    return handovers


async def control_sheet_of(
    session: AsyncSession,
    dossier: Dossier,
    heading: FormHeading,
    *,
    steps: Iterable[HandOver] = (),
) -> ControlSheet:
    """Mẫu 05: the dossier's history and, when the caller has them, its workflow steps (as plain
    hand-overs), in the order they happened."""
    history = await history_of(session, dossier.id)
    names = await names_of(session, personal_ids_in(history, dossier.assigned_to))
    deciding = await _unit_name(session, dossier.deciding_unit_id) or heading.agency_name
    rows = handovers_from_history(
        history, names, dossier=dossier, desk=heading.agency_name, deciding=deciding
    )
    ordered = sorted([*rows, *steps], key=lambda h: h.at)
    return ControlSheet(heading=heading, handovers=tuple(ordered), finished_at=dossier.finished_at)


# Issued: drawn, signed and filed -----------------------------------------------------------------
async def file_paper_form(
    session: AsyncSession,
    tenant: Tenant,
    *,
    signing: Signing,
    document_id: str,
    pdf: bytes,
    title: str,
    kind: FormKind,
    dossier_id: int,
    unit_id: int | None,
    signer_name: str,
) -> SignedDocument:
    """Sign the form with the unit's key and file it with the dossier (``signing``'s register
    and the tenant's storage), in the caller's transaction."""
    return await sign_and_file(
        session,
        tenant,
        signing=signing,
        document_id=document_id,
        pdf=pdf,
        title=title,
        kind=DocumentKind(kind.value),
        dossier_id=dossier_id,
        unit_id=unit_id,
        signer_name=signer_name,
    )


async def _issue(
    session: AsyncSession,
    tenant: Tenant,
    dossier: Dossier,
    build: Callable[[FormHeading], Awaitable[PaperForm]],
    *,
    signing: Signing,
    origin: str,
    signer_name: str,
    unit_id: int | None,
    now: datetime | None,
) -> SignedDocument:
    # The id first: the QR code that names it is part of what gets signed.
    document_id = new_document_id()
    heading = await form_heading(
        session,
        tenant,
        dossier,
        document_id=document_id,
        verification_url=verification_url(origin, document_id),
        issued_at=(now or datetime.now(VIETNAM_TZ)).astimezone(VIETNAM_TZ),
        signer_name=signer_name,
    )
    form = await build(heading)
    kind = kind_of(form)
    # The filed copy is the Vietnamese one, the legal document; the English rendering is a
    # reading aid (``render_paper_form(form, "en")``).
    return await file_paper_form(
        session,
        tenant,
        signing=signing,
        document_id=document_id,
        pdf=render_paper_form(form),
        title=f"{kind.label.capitalize()} {dossier.code}",
        kind=kind,
        dossier_id=dossier.id,
        unit_id=unit_id,
        signer_name=heading.signer_name,
    )


async def issue_supplement_request(
    session: AsyncSession,
    tenant: Tenant,
    dossier: Dossier,
    *,
    signing: Signing,
    origin: str,
    signer_name: str,
    now: datetime | None = None,
) -> SignedDocument:
    """Mẫu 02, right after ``request_supplement``, in the same transaction. ``origin``: the
    tenant site's ``scheme://host`` (``core.pages.public_origin``), for the QR code."""

    async def build(heading: FormHeading) -> PaperForm:
        return supplement_request_of(dossier, heading)

    return await _issue(
        session,
        tenant,
        dossier,
        build,
        signing=signing,
        origin=origin,
        signer_name=signer_name,
        unit_id=dossier.receiving_unit_id,
        now=now,
    )


async def issue_refusal(
    session: AsyncSession,
    tenant: Tenant,
    dossier: Dossier,
    *,
    signing: Signing,
    origin: str,
    signer_name: str,
    now: datetime | None = None,
) -> SignedDocument:
    """Mẫu 03, right after the refusal (``officer_act`` with ``Action.REFUSE``)."""

    async def build(heading: FormHeading) -> PaperForm:
        return refusal_of(await history_of(session, dossier.id), heading)

    return await _issue(
        session,
        tenant,
        dossier,
        build,
        signing=signing,
        origin=origin,
        signer_name=signer_name,
        unit_id=dossier.receiving_unit_id,
        now=now,
    )


async def issue_apology_form(
    session: AsyncSession,
    tenant: Tenant,
    dossier: Dossier,
    slip: ApologySlip,
    *,
    signing: Signing,
    origin: str,
    signer_name: str,
    now: datetime | None = None,
) -> SignedDocument:
    """Mẫu 04, right after ``issue_apology``, from the slip it returns; signed by the deciding
    unit, whose delay it apologises for."""

    async def build(heading: FormHeading) -> PaperForm:
        return apology_of(slip, heading)

    return await _issue(
        session,
        tenant,
        dossier,
        build,
        signing=signing,
        origin=origin,
        signer_name=signer_name,
        unit_id=dossier.deciding_unit_id or dossier.receiving_unit_id,
        now=now,
    )


async def issue_control_sheet(
    session: AsyncSession,
    tenant: Tenant,
    dossier: Dossier,
    *,
    signing: Signing,
    origin: str,
    signer_name: str,
    steps: Iterable[HandOver] = (),
    now: datetime | None = None,
) -> SignedDocument:
    """Mẫu 05, on demand and at delivery; ``steps``: the workflow's steps as hand-overs."""
    steps = tuple(steps)

    async def build(heading: FormHeading) -> PaperForm:
        return await control_sheet_of(session, dossier, heading, steps=steps)

    return await _issue(
        session,
        tenant,
        dossier,
        build,
        signing=signing,
        origin=origin,
        signer_name=signer_name,
        unit_id=dossier.receiving_unit_id,
        now=now,
    )


# The form each officer action issues: the desk hands the applicant a supplement request or a
# refusal when it acts; the control sheet goes with the dossier to its delivery.
FORM_OF_ACTION = {
    Action.REQUEST_SUPPLEMENT: FormKind.SUPPLEMENT_REQUEST,
    Action.REFUSE: FormKind.REFUSAL,
    Action.DELIVER: FormKind.CONTROL_SHEET,
}


async def issue_for_action(
    session: AsyncSession,
    tenant: Tenant,
    dossier: Dossier,
    action: Action,
    *,
    signing: Signing,
    origin: str,
    signer_name: str,
    steps: Iterable[HandOver] = (),
) -> SignedDocument | None:
    """The form an officer action issues, right after the action in its transaction (None for
    an action that issues none): one call for the workspace's action route."""
    kind = FORM_OF_ACTION.get(action)
    if kind is None:
        return None
    if kind is FormKind.SUPPLEMENT_REQUEST:
        return await issue_supplement_request(
            session, tenant, dossier, signing=signing, origin=origin, signer_name=signer_name
        )
    if kind is FormKind.REFUSAL:
        return await issue_refusal(
            session, tenant, dossier, signing=signing, origin=origin, signer_name=signer_name
        )
    return await issue_control_sheet(
        session, tenant, dossier, signing=signing, origin=origin, signer_name=signer_name, steps=steps
    )


async def paper_forms_of(session: AsyncSession, dossier_id: int) -> list[SignedDocument]:
    """The forms issued for a dossier, oldest first (a dossier asked twice for a supplement has
    two supplement requests): for the dossier page's and the workspace's lists."""
    return list(
        (
            await session.scalars(
                select(SignedDocument)
                .where(SignedDocument.dossier_id == dossier_id, SignedDocument.kind.in_(sorted(FORM_KINDS)))
                .order_by(SignedDocument.signed_at, SignedDocument.id)
            )
        ).all()
    )


async def paper_form_of(session: AsyncSession, dossier_id: int, document_id: str) -> SignedDocument | None:
    """One issued form of this dossier (None for another dossier's document, or anything that is
    not one of these forms: a result or a receipt has its own way out)."""
    row = await session.get(SignedDocument, document_id[:32])
    if row is None or row.dossier_id != dossier_id or row.kind not in FORM_KINDS:
        return None
    return row


FORM_KINDS = frozenset(k.value for k in FormKind)
# What each form is called on the pages that list them (msgids: the register's words, signing.models).
FORM_LABELS = {k.value: DocumentKind(k.value).label for k in FormKind}
# The name a downloaded form is saved under, without diacritics (some mail clients and older
# phones mangle them).
FILE_NAMES = {
    FormKind.SUPPLEMENT_REQUEST: "phieu-yeu-cau-bo-sung",
    FormKind.REFUSAL: "phieu-tu-choi-tiep-nhan",
    FormKind.APOLOGY: "phieu-xin-loi-hen-lai",
    FormKind.CONTROL_SHEET: "phieu-kiem-soat",
}


def file_name(row: SignedDocument, dossier_code: str) -> str:
    return f"{FILE_NAMES[FormKind(row.kind)]}-{dossier_code}.pdf"


async def _unit_name(session: AsyncSession, unit_id: int | None) -> str:
    if unit_id is None:
        return ""
    return await session.scalar(select(Unit.name).where(Unit.id == unit_id)) or ""
