"""The one-stop desk's forms of Circular 01/2018/TT-VPCP (guiding Decree 61/2018 on the one-stop
mechanism), generated from the dossier: mẫu số 02 the supplement request, 03 the refusal, 04 the
apology with a new appointment and 05 the control sheet of the whole process (mẫu 01, the
appointment slip, is ``slip.py``, whose fonts and drawing helpers these reuse).

Each form is an A4 PDF in Vietnamese or, when asked, English (labels only: names, reasons and the
procedure stay as written), carrying a QR code to the public verification page of the signed copy.
The document id is chosen before drawing, because the QR code is part of what is signed; the
signing and filing themselves are the ``signing`` package's (``file_paper_form``).

Workflow steps sit above dossiers in the layers: the control sheet takes them as plain
``HandOver`` values from its caller and never reads the workflow's tables.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.models import Procedure
from motcua.core.messages import Message, message_from_json
from motcua.core.tenant import Tenant
from motcua.core.theming import DEFAULT_LANGUAGE, LANGUAGES, translations
from motcua.dossiers.lifecycle import Action
from motcua.dossiers.models import ApologySlip, Dossier, DossierHistory, DossierStatus
from motcua.dossiers.services import history_of, names_of
from motcua.dossiers.slip import (
    VIETNAM_TZ,
    draw_field,
    draw_official_header,
    draw_verification,
    format_slip_time,
    new_official_pdf,
    raise_on_missing_glyphs,
    set_font,
)
from motcua.dossiers.words import Who, history_in_words, personal_ids_in
from motcua.identity.models import N_
from motcua.identity.schemas import mask_personal_id
from motcua.organisation.models import Unit
from motcua.signing.models import DocumentKind, SignedDocument
from motcua.signing.services import Signing, new_document_id, sign_and_file, verification_url

S = DossierStatus
Gettext = Callable[[str], str]


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

_LINE = 6.0


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


def _gettext(lang: str) -> Gettext:
    return translations(lang if lang in LANGUAGES else DEFAULT_LANGUAGE).gettext


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _say(text: str, _: Gettext, lang: str) -> str:
    """A ``Message`` in the reader's language; any other text is data and stays as written (a
    name must never be looked up in the catalogue)."""
    if isinstance(text, Message):
        return _nfc(text.render(_, None, lang))
    return _nfc(text)


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


# Drawing ---------------------------------------------------------------------------------------
def render_paper_form(form: PaperForm, lang: str = DEFAULT_LANGUAGE) -> bytes:
    """The form as a PDF with its labels in ``lang`` (the same form and language give the same
    bytes: the document's date is its own, never the clock)."""
    _ = _gettext(lang)
    kind = kind_of(form)
    h = form.heading
    pdf = new_official_pdf(
        f"{_(kind.label).capitalize()} - {_nfc(h.dossier_code)}", h.agency_name, h.issued_at, lang=lang
    )
    pdf.add_page()
    _draw_top(pdf, kind, h, _, lang)
    if isinstance(form, SupplementRequest):
        _draw_supplement_request(pdf, form, _, lang)
        _draw_signature(pdf, _("NGƯỜI HƯỚNG DẪN"), h.signer_name, _)
    elif isinstance(form, Refusal):
        _draw_refusal(pdf, form, _, lang)
        _draw_signature(pdf, _("NGƯỜI TIẾP NHẬN HỒ SƠ"), h.signer_name, _)
    elif isinstance(form, Apology):
        _draw_apology(pdf, form, _, lang)
        _draw_signature(pdf, _("ĐẠI DIỆN CƠ QUAN"), h.signer_name, _)
    else:
        _draw_control_sheet(pdf, form, _, lang)
        _draw_signature(pdf, _("NGƯỜI LẬP PHIẾU"), h.signer_name, _)
    # The same verification block as every signed document of the authority (slip.py's).
    draw_verification(pdf, h.verification_url, _)
    raise_on_missing_glyphs(pdf)
    return bytes(pdf.output())


def kind_of(form: PaperForm) -> FormKind:
    if isinstance(form, SupplementRequest):
        return FormKind.SUPPLEMENT_REQUEST
    if isinstance(form, Refusal):
        return FormKind.REFUSAL
    if isinstance(form, Apology):
        return FormKind.APOLOGY
    return FormKind.CONTROL_SHEET


def _draw_top(pdf: FPDF, kind: FormKind, h: FormHeading, _: Gettext, lang: str) -> None:
    set_font(pdf, size=8.5)
    pdf.set_text_color(90, 90, 90)
    pdf.multi_cell(
        0,
        4.5,
        _("Mẫu số %(number)s, Thông tư số 01/2018/TT-VPCP") % {"number": kind.number},
        align=Align.R,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_text_color(0, 0, 0)
    pdf.ln(1)
    draw_official_header(pdf, h.tenant_name, h.agency_name, _)
    # The place and date line under the motto (Decree 30/2020): the form's own date.
    pdf.set_y(pdf.get_y() - 6)
    set_font(pdf, size=10.5)
    pdf.multi_cell(
        0,
        _LINE,
        f"{_nfc(place_of(h.tenant_name))}, {format_form_date(h.issued_at, lang)}",
        align=Align.R,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(5)
    set_font(pdf, bold=True, size=13.5)
    pdf.multi_cell(0, 7, _(kind.label), align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    set_font(pdf, bold=True, size=12)
    pdf.multi_cell(
        0,
        7,
        _("Mã hồ sơ: %(code)s") % {"code": _nfc(h.dossier_code)},
        align=Align.C,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(4)


_PLACE_PREFIXES = ("Tỉnh ", "Thành phố ", "UBND tỉnh ", "UBND thành phố ")


def place_of(tenant_name: str) -> str:
    """The place on the date line: 'Tỉnh Bắc Ninh' → 'Bắc Ninh' (Decree 30/2020 writes the
    place's own name)."""
    name = _nfc(tenant_name).strip()
    for prefix in _PLACE_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix) :]
    return name


def _paragraph(pdf: FPDF, text: str, *, bold: bool = False) -> None:
    set_font(pdf, bold=bold)
    pdf.multi_cell(0, _LINE, _nfc(text), align=Align.J, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _applicant(pdf: FPDF, h: FormHeading, _: Gettext) -> None:
    draw_field(pdf, _("Ông/Bà"), h.applicant_name, bold_value=True)
    draw_field(pdf, _("Số định danh cá nhân"), h.applicant_personal_id_masked)
    draw_field(pdf, _("Nội dung yêu cầu giải quyết"), h.procedure_name, bold_value=True)
    draw_field(pdf, _("Mã thủ tục hành chính"), h.procedure_code)


def _draw_supplement_request(pdf: FPDF, form: SupplementRequest, _: Gettext, lang: str) -> None:
    h = form.heading
    _applicant(pdf, h, _)
    pdf.ln(2)
    _paragraph(
        pdf,
        _(
            "Lúc %(date)s, %(agency)s đã tiếp nhận hồ sơ của Ông/Bà. Sau khi xem xét, đề nghị "
            "Ông/Bà bổ sung, hoàn thiện hồ sơ gồm những nội dung sau:"
        )
        % {"date": format_slip_time(h.received_at, lang), "agency": _nfc(h.agency_name)},
    )
    set_font(pdf)
    for number, item in enumerate(form.items, start=1):
        pdf.set_x(pdf.l_margin + 6)
        pdf.multi_cell(0, _LINE, f"{number}. {_nfc(item)}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    draw_field(pdf, _("Lý do"), form.reason)
    pdf.ln(1)
    _paragraph(
        pdf,
        _(
            "Thời hạn giải quyết hồ sơ tạm dừng từ %(time)s cho đến khi Ông/Bà bổ sung đầy đủ; "
            "Ông/Bà có thể gửi giấy tờ bổ sung trực tuyến trên Cổng dịch vụ công hoặc tại Bộ phận Một cửa."
        )
        % {"time": format_slip_time(form.requested_at, lang)},
    )
    _paragraph(
        pdf,
        _("Trong quá trình hoàn thiện hồ sơ, nếu có vướng mắc, Ông/Bà liên hệ %(agency)s để được hướng dẫn.")
        % {"agency": _nfc(h.agency_name)},
    )


def _draw_refusal(pdf: FPDF, form: Refusal, _: Gettext, lang: str) -> None:
    h = form.heading
    _applicant(pdf, h, _)
    draw_field(pdf, _("Thời gian nộp hồ sơ"), format_slip_time(h.received_at, lang))
    pdf.ln(2)
    _paragraph(
        pdf,
        _(
            "Căn cứ quy định của thủ tục hành chính, %(agency)s không tiếp nhận, giải quyết hồ sơ này "
            "với lý do:"
        )
        % {"agency": _nfc(h.agency_name)},
    )
    set_font(pdf, bold=True)
    pdf.set_x(pdf.l_margin + 6)
    pdf.multi_cell(0, _LINE, _say(form.reason, _, lang), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    _paragraph(pdf, _("Xin thông báo để Ông/Bà được biết và thực hiện."))


def _draw_apology(pdf: FPDF, form: Apology, _: Gettext, lang: str) -> None:
    h = form.heading
    _paragraph(
        pdf,
        _("Lúc %(date)s, %(agency)s tiếp nhận giải quyết hồ sơ của:")
        % {"date": format_slip_time(h.received_at, lang), "agency": _nfc(h.agency_name)},
    )
    _applicant(pdf, h, _)
    draw_field(pdf, _("Thời hạn trả kết quả đã hẹn"), format_slip_time(form.previous_due_at, lang))
    pdf.ln(2)
    _paragraph(
        pdf,
        _("Tuy nhiên đến nay, %(agency)s chưa trả được kết quả giải quyết hồ sơ của Ông/Bà.")
        % {"agency": _nfc(h.agency_name)},
    )
    draw_field(pdf, _("Lý do"), form.reason)
    pdf.ln(1)
    _paragraph(
        pdf,
        _(
            "Sự chậm trễ này đã gây phiền hà cho Ông/Bà. %(agency)s xin lỗi Ông/Bà và hẹn lại "
            "thời gian trả kết quả vào:"
        )
        % {"agency": _nfc(h.agency_name)},
    )
    _paragraph(pdf, format_slip_time(form.new_due_at, lang), bold=True)
    _paragraph(pdf, _("Rất mong nhận được sự thông cảm của Ông/Bà."))


def _draw_control_sheet(pdf: FPDF, form: ControlSheet, _: Gettext, lang: str) -> None:
    h = form.heading
    draw_field(pdf, _("Kèm theo hồ sơ của"), h.applicant_name, bold_value=True)
    draw_field(pdf, _("Nội dung yêu cầu giải quyết"), h.procedure_name, bold_value=True)
    draw_field(pdf, _("Thời gian nhận hồ sơ"), format_slip_time(h.received_at, lang))
    draw_field(pdf, _("Thời gian trả kết quả"), format_slip_time(h.due_at, lang))
    if form.finished_at is not None:
        in_time = _say(timeliness(form.finished_at, h.due_at), _, lang)
        draw_field(pdf, _("Đã giải quyết xong"), f"{format_slip_time(form.finished_at, lang)} ({in_time})")
    pdf.ln(3)
    set_font(pdf, size=9)
    pdf.set_line_width(0.2)
    with pdf.table(
        col_widths=(9, 22, 34, 34, 40, 31),
        text_align=(Align.C, Align.L, Align.L, Align.L, Align.L, Align.L),
        line_height=4.6,
        padding=1.0,
        align=Align.L,
        borders_layout=TableBordersLayout.ALL,
        first_row_as_headings=True,  # repeated on every page of a long history
        headings_style=FontFace(emphasis="BOLD"),
    ) as table:
        heading = table.row()
        for text in (
            _("STT"),
            _("Thời gian giao, nhận"),
            _("Bên giao"),
            _("Bên nhận"),
            _("Kết quả"),
            _("Ghi chú"),
        ):
            heading.cell(text)
        for number, handover in enumerate(form.handovers, start=1):
            row = table.row()
            row.cell(f"{number:02d}")
            row.cell(short_time(handover.at))
            row.cell(_say(handover.giver, _, lang))
            row.cell(_say(handover.receiver, _, lang))
            row.cell(_say(handover.result, _, lang))
            row.cell(_say(handover.remark, _, lang) if handover.remark else "")
    pdf.ln(3)


def _draw_signature(pdf: FPDF, title: str, signer_name: str, _: Gettext) -> None:
    # No room left for a hand signature: the digital one is the signature, and its visible stamp
    # goes in the last page's foot (signing.pades.STAMP_BOX), under the 15 mm margin kept free.
    block = 26.0
    if pdf.get_y() + block > pdf.page_break_trigger:
        pdf.add_page()
    width = 95.0
    x = pdf.l_margin + pdf.epw - width
    pdf.set_x(x)
    set_font(pdf, bold=True)
    pdf.multi_cell(width, _LINE, title, align=Align.C, new_x=XPos.LEFT, new_y=YPos.NEXT)
    set_font(pdf, size=9.5)
    pdf.multi_cell(width, 5, _(SIGNED_DIGITALLY), align=Align.C, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_y(pdf.get_y() + 4)
    pdf.set_x(x)
    set_font(pdf, bold=True)
    pdf.multi_cell(width, _LINE, _nfc(signer_name), align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(5)


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
