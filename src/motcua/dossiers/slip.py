"""The appointment slip (phiếu tiếp nhận hồ sơ và hẹn trả kết quả) as a PDF and its QR code as SVG.

The layout follows mẫu số 01 of Circular 01/2018/TT-VPCP. Text is set in DejaVu Sans, embedded and
subset, so every Vietnamese letter is real, searchable text on any reader. The labels are drawn in the
language of whoever downloads it (``lang``; Vietnamese msgids, translated with the UI's catalogue);
the data (names, the procedure, the documents) stays as it was written.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache, partial
from io import BytesIO
from pathlib import Path
from typing import cast

import anyio.to_thread
import segno
from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace, TTFFont
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.models import Procedure
from motcua.core.actions import Job, enqueue, savepoint
from motcua.core.messages import Message, in_language
from motcua.core.pdf_fonts import DOCUMENT_BOLD, DOCUMENT_REGULAR, font_bytes
from motcua.core.tenant import Tenant
from motcua.core.theming import DEFAULT_LANGUAGE, LANGUAGES, translations
from motcua.dossiers.models import Channel, Dossier, DossierFile
from motcua.dossiers.services import slip_files
from motcua.identity.schemas import mask_personal_id
from motcua.signing.models import DocumentKind, SignedDocument
from motcua.signing.services import Signing, new_document_id, sign_and_file, verification_url

log = logging.getLogger(__name__)

FONT_FAMILY = "DejaVuSans"
# By style (fpdf2's "" and "B"): DejaVu Sans cut to what a document can hold (core.pdf_fonts).
FONT_CUTS = {"": DOCUMENT_REGULAR, "B": DOCUMENT_BOLD}

# Vietnam has kept UTC+7 without daylight saving since 1975: a fixed offset needs no tzdata.
VIETNAM_TZ = timezone(timedelta(hours=7), "ICT")

SLIP_TITLE = "PHIẾU TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ"
QR_CAPTION = "Tra cứu tình trạng hồ sơ"
# Stands where the paper form has the two signatures: nobody signs a slip issued online.
AUTOMATIC_NOTE = "Phiếu này được hệ thống dịch vụ công tạo tự động khi tiếp nhận hồ sơ."
# Level M (15 % of the symbol recoverable) survives a crease or a smudge on a printed slip, and a
# ~100-character URL still gives modules of about 0.7 mm in the 32 mm square.
QR_ERROR_LEVEL = "m"

_LEFT_MARGIN = 25.0
_RIGHT_MARGIN = 15.0
_TOP_MARGIN = 15.0
_BODY_SIZE = 11.0
_LINE = 6.0
_QR_SIZE = 32.0
# The framed QR, its caption and the note under the frame.
_TRACKING_BLOCK_HEIGHT = _QR_SIZE + 16


class MissingGlyphError(ValueError):
    """The slip holds characters the embedded font cannot draw; a reader would show empty boxes."""


@dataclass(frozen=True)
class SlipDocument:
    name: str
    copies: str


@dataclass(frozen=True)
class SlipData:
    tenant_name: str
    agency_name: str
    dossier_code: str
    procedure_code: str
    procedure_name: str
    applicant_name: str
    applicant_personal_id_masked: str
    applicant_address: str | None
    applicant_phone: str | None
    received_at: datetime
    due_at: datetime
    channel_label: str
    documents: tuple[SlipDocument, ...]
    fee_vnd: int
    tracking_url: str


# How each document was received, in the slip's "Số lượng" column.
COPIES_ELECTRONIC = "Bản điện tử"
# A paper document scanned at the desk (Decree 107/2021 art. 16: digitised at reception).
COPIES_DIGITISED = "Bản giấy, đã số hóa"
ENTERED_BY_OFFICER = "do cán bộ tiếp nhận"


def channel_words(dossier: Dossier) -> Message:
    """'Trực tiếp tại Bộ phận Một cửa, do cán bộ tiếp nhận': how the dossier came, in words
    (a ``Message``: pages and the PDF show it in the reader's language)."""
    label = Message(Channel(dossier.channel).label)
    if dossier.entered_by_officer:
        return Message("%(channel)s, do cán bộ tiếp nhận", channel=label)
    return label


def slip_for(
    dossier: Dossier,
    files: Sequence[DossierFile],
    procedure: Procedure | None,
    *,
    tenant_name: str,
    tracking_url: str,
) -> SlipData:
    """The slip of a dossier, whichever channel it came by: the citizen's and the officer's
    downloads are the same document, and so is the one the job signs later. The applicant's
    contact is what was given when it was received (Dossier.applicant_phone, applicant_address),
    online the form's contact phone."""
    names = {d["code"]: d["name"] for d in (procedure.documents if procedure else [])}
    return SlipData(
        tenant_name=tenant_name,
        agency_name=(procedure.agency if procedure and procedure.agency else tenant_name),
        dossier_code=dossier.code,
        procedure_code=dossier.procedure_code,
        procedure_name=dossier.procedure_name,
        applicant_name=dossier.applicant_name,
        applicant_personal_id_masked=mask_personal_id(dossier.applicant_personal_id),
        applicant_address=dossier.applicant_address or None,
        applicant_phone=dossier.applicant_phone or str(dossier.data.get("contact_phone") or "") or None,
        received_at=dossier.received_at,
        due_at=dossier.due_at,
        channel_label=channel_words(dossier),
        documents=tuple(
            SlipDocument(
                name=names.get(f.document_code, f.display_name),
                copies=COPIES_DIGITISED if f.digitised else COPIES_ELECTRONIC,
            )
            for f in files
        ),
        fee_vnd=dossier.fee_vnd,
        tracking_url=tracking_url,
    )


def format_fee_vnd(fee_vnd: int, lang: str = DEFAULT_LANGUAGE) -> str:
    """'50.000 đồng' ('50,000 dong' in English), or 'Miễn phí'."""
    if fee_vnd < 0:
        raise ValueError(f"a fee cannot be negative: {fee_vnd}")
    if fee_vnd == 0:
        return _gettext(lang)("Miễn phí")
    if lang == "en":
        return f"{fee_vnd:,} dong"
    return f"{fee_vnd:,} đồng".replace(",", ".")


def format_slip_time(moment: datetime, lang: str = DEFAULT_LANGUAGE) -> str:
    """'08 giờ 15 phút, ngày 23/11/2026' ('08:15 on 23/11/2026'), in Vietnam time whatever zone
    the value carries."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        # A naive time could be UTC from the database or local from a form: guessing would shift
        # the promised return date by seven hours.
        raise ValueError("slip times must be timezone-aware")
    local = moment.astimezone(VIETNAM_TZ)
    if lang == "en":
        return f"{local:%H:%M} on {local:%d/%m/%Y}"
    return f"{local:%H} giờ {local:%M} phút, ngày {local:%d/%m/%Y}"


Gettext = Callable[[str], str]


def _gettext(lang: str) -> Gettext:
    return translations(lang if lang in LANGUAGES else DEFAULT_LANGUAGE).gettext


@lru_cache(maxsize=256)
def _qr(url: str) -> segno.QRCode:
    # Never a Micro QR: most phone camera apps do not read them.
    return segno.make_qr(url, error=QR_ERROR_LEVEL)


def qr_matrix(url: str) -> tuple[tuple[bool, ...], ...]:
    """The QR modules (True = dark) without the quiet zone, shared by the PDF and the SVG."""
    return tuple(tuple(bool(module) for module in row) for row in _qr(url).matrix)


def qr_svg(url: str) -> str:
    # A white background and explicit quiet zone keep the code scannable on a dark page theme.
    return _qr(url).svg_inline(
        scale=4,
        border=4,
        dark="#000",
        light="#fff",
        omitsize=True,
        title=f"{QR_CAPTION}: {url}",
        svgclass="slip-qr",
        lineclass=None,
    )


def render_slip_pdf(
    slip: SlipData, lang: str = DEFAULT_LANGUAGE, *, verification_url: str | None = None
) -> bytes:
    """The slip as a PDF, its labels in ``lang`` (the same slip and language give the same bytes).
    ``verification_url``: the copy to be signed carries a second QR code, to its verification page."""
    t = _gettext(lang)
    pdf = _new_document(slip, t, lang)
    pdf.add_page()
    _draw_header(pdf, slip, t)
    _draw_title(pdf, slip, t)
    _draw_applicant(pdf, slip, t)
    _draw_documents(pdf, slip.documents, t)
    _draw_terms(pdf, slip, lang)
    _draw_tracking(pdf, slip.tracking_url, t)
    if verification_url is not None:
        draw_verification(pdf, verification_url, t)
    raise_on_missing_glyphs(pdf)
    return bytes(pdf.output())


async def file_signed_slip(
    session: AsyncSession,
    tenant: Tenant,
    *,
    signing: Signing,
    dossier: Dossier,
    slip: SlipData,
    origin: str,
) -> SignedDocument:
    """The dossier's slip signed with its receiving unit's key and filed with the dossier, once: a
    later call returns the filed one. The filed slip is the Vietnamese original (``origin``: the
    tenant site's ``scheme://host``, for the QR code to the verification page)."""
    # The dossier's row lock makes two first downloads at once sign one slip, not two.
    await session.execute(select(Dossier.id).where(Dossier.id == dossier.id).with_for_update())
    filed = await session.scalar(
        select(SignedDocument)
        .where(SignedDocument.dossier_id == dossier.id, SignedDocument.kind == DocumentKind.SLIP.value)
        .order_by(SignedDocument.signed_at)
        .limit(1)
    )
    if filed is not None:
        return filed
    document_id = new_document_id()
    pdf = await anyio.to_thread.run_sync(
        partial(render_slip_pdf, slip, verification_url=verification_url(origin, document_id))
    )
    return await sign_and_file(
        session,
        tenant,
        signing=signing,
        document_id=document_id,
        pdf=pdf,
        title=f"{SLIP_TITLE.capitalize()} - {_nfc(slip.dossier_code)}",
        kind=DocumentKind.SLIP,
        dossier_id=dossier.id,
        unit_id=dossier.receiving_unit_id,
        signer_name=slip.agency_name,
    )


# The job that signs a slip the signer could not sign as it was issued (backoffice.jobs serves it).
SIGN_SLIP = Job("sign_slip", "signing")


async def issue_signed_slip(
    session: AsyncSession,
    tenant: Tenant,
    dossier: Dossier,
    *,
    signing: Signing,
    origin: str,
) -> SignedDocument | None:
    """Sign and file the slip as the dossier is received (online or at the desk). A submission is
    never lost to the signer: when signing fails (the token or the timestamp authority down, a
    revoked key), the dossier stands, the slip stays downloadable unsigned as before, and a job
    signs it later (None is returned)."""
    try:
        async with savepoint(session):
            slip = slip_for(
                dossier,
                await slip_files(session, dossier.id),
                await session.get(Procedure, dossier.procedure_id),
                tenant_name=tenant.name,
                tracking_url=f"{origin}/tracking?code={dossier.code}",
            )
            return await file_signed_slip(
                session, tenant, signing=signing, dossier=dossier, slip=slip, origin=origin
            )
    except Exception as exc:  # whatever the signer's failure, the dossier must stand
        log.warning("slip of %s in %s not signed now, queued: %s", dossier.code, tenant.slug, exc)
        await enqueue(session, SIGN_SLIP, tenant=tenant.slug, dossier_id=dossier.id)
        return None


async def filed_slip(session: AsyncSession, dossier_id: int) -> SignedDocument | None:
    """The dossier's signed slip, once filed."""
    return await session.scalar(
        select(SignedDocument)
        .where(SignedDocument.dossier_id == dossier_id, SignedDocument.kind == DocumentKind.SLIP.value)
        .order_by(SignedDocument.signed_at)
        .limit(1)
    )


def _add_slip_fonts(pdf: FPDF) -> None:
    for style, cut in FONT_CUTS.items():
        fontkey = f"{FONT_FAMILY.lower()}{style}"
        # add_font() only takes a path. This is its own body minus the path lookup: fontTools reads a
        # file object as readily, and each document needs its own because fpdf2 subsets in place.
        font = TTFFont(pdf, cast(Path, BytesIO(font_bytes(cut))), fontkey, style)
        # Subsetting leaves every outline as it is, and the cut font's boxes are already right: without
        # this fontTools unpacks and recompiles each used glyph, a third of the render time.
        font.ttfont.recalcBBoxes = False
        pdf.fonts[fontkey] = font


def _new_document(slip: SlipData, t: Gettext, lang: str) -> FPDF:
    # The slip's date, not the wall clock, so the same dossier always yields the same bytes.
    return new_official_pdf(
        f"{t(SLIP_TITLE).capitalize()} - {_nfc(slip.dossier_code)}",
        slip.agency_name,
        slip.received_at,
        lang=lang,
    )


def new_official_pdf(title: str, author: str, created: datetime, *, lang: str = DEFAULT_LANGUAGE) -> FPDF:
    """An A4 document in the administrative layout with the embedded Vietnamese fonts; the same
    inputs give the same bytes (``created`` is the document's own date, not the clock)."""
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_margins(_LEFT_MARGIN, _TOP_MARGIN, _RIGHT_MARGIN)
    pdf.set_auto_page_break(auto=True, margin=15)
    _add_slip_fonts(pdf)
    pdf.set_lang(lang)
    pdf.set_title(_nfc(title))
    pdf.set_author(_nfc(author))
    pdf.set_creator("motcua")
    pdf.set_creation_date(created)
    return pdf


def _nfc(text: str) -> str:
    # Decomposed input (NFD from some keyboards and browsers) would put stacked combining marks next to
    # the letter instead of on it: the font has a precomposed glyph for every Vietnamese letter.
    return unicodedata.normalize("NFC", text)


def set_font(pdf: FPDF, *, bold: bool = False, size: float = _BODY_SIZE) -> None:
    _font(pdf, bold=bold, size=size)


def _font(pdf: FPDF, *, bold: bool = False, size: float = _BODY_SIZE) -> None:
    pdf.set_font(FONT_FAMILY, "B" if bold else "", size)


def _draw_header(pdf: FPDF, slip: SlipData, t: Gettext) -> None:
    draw_official_header(pdf, slip.tenant_name, slip.agency_name, t)


# The national name and motto heading every administrative document (Decree 30/2020).
NATIONAL_NAME = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
NATIONAL_MOTTO = "Độc lập - Tự do - Hạnh phúc"


def draw_official_header(pdf: FPDF, tenant_name: str, agency_name: str, t: Gettext = str) -> None:
    """The issuing body on the left, the national motto on the right (Decree 30/2020 layout)."""
    top = pdf.get_y()
    left_w = 84.0
    right_x = pdf.l_margin + left_w
    right_w = pdf.epw - left_w

    pdf.set_xy(pdf.l_margin, top)
    _font(pdf, size=9.5)
    pdf.multi_cell(left_w, 5, _nfc(tenant_name).upper(), align=Align.C, new_x=XPos.LMARGIN)
    _font(pdf, bold=True, size=9.5)
    pdf.multi_cell(left_w, 5, _nfc(agency_name).upper(), align=Align.C, new_x=XPos.LMARGIN)
    left_bottom = pdf.get_y()
    _underline(pdf, pdf.l_margin + left_w / 2, left_bottom + 1.5, 28)

    pdf.set_xy(right_x, top)
    _font(pdf, bold=True, size=10)
    pdf.multi_cell(right_w, 5, t(NATIONAL_NAME), align=Align.C, new_x=XPos.LEFT)
    _font(pdf, bold=True, size=10.5)
    pdf.multi_cell(right_w, 5.5, t(NATIONAL_MOTTO), align=Align.C, new_x=XPos.LEFT)
    right_bottom = pdf.get_y()
    _underline(pdf, right_x + right_w / 2, right_bottom + 1.5, 52)

    pdf.set_xy(pdf.l_margin, max(left_bottom, right_bottom) + 10)


def _underline(pdf: FPDF, centre_x: float, y: float, width: float) -> None:
    pdf.set_line_width(0.3)
    pdf.line(centre_x - width / 2, y, centre_x + width / 2, y)


def _draw_title(pdf: FPDF, slip: SlipData, t: Gettext) -> None:
    _font(pdf, bold=True, size=13.5)
    pdf.multi_cell(0, 7, t(SLIP_TITLE), align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    code_line = t("Mã hồ sơ: %(code)s") % {"code": _nfc(slip.dossier_code)}
    _font(pdf, bold=True, size=12)
    pdf.multi_cell(0, 7, code_line, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)


def draw_field(pdf: FPDF, label: str, value: str, *, bold_value: bool = False) -> None:
    _field(pdf, label, value, bold_value=bold_value)


def _field(pdf: FPDF, label: str, value: str, *, bold_value: bool = False) -> None:
    # write() flows a long address onto the next line from the left margin, as on the paper form.
    _font(pdf)
    pdf.write(_LINE, f"{label}: ")
    _font(pdf, bold=bold_value)
    pdf.write(_LINE, _nfc(value))
    pdf.ln(_LINE)


def _draw_applicant(pdf: FPDF, slip: SlipData, t: Gettext) -> None:
    _font(pdf)
    pdf.multi_cell(
        0,
        _LINE,
        t("%(agency)s tiếp nhận hồ sơ của:") % {"agency": _nfc(slip.agency_name)},
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    _field(pdf, t("Ông/Bà"), slip.applicant_name, bold_value=True)
    _field(pdf, t("Số định danh cá nhân"), slip.applicant_personal_id_masked)
    if slip.applicant_address:
        _field(pdf, t("Địa chỉ"), slip.applicant_address)
    if slip.applicant_phone:
        _field(pdf, t("Số điện thoại"), slip.applicant_phone)
    _field(pdf, t("Nội dung yêu cầu giải quyết"), slip.procedure_name, bold_value=True)
    _field(pdf, t("Mã thủ tục hành chính"), slip.procedure_code)
    _field(pdf, t("Hình thức nộp hồ sơ"), in_language(slip.channel_label, t))
    pdf.ln(2)


def _draw_documents(pdf: FPDF, documents: Iterable[SlipDocument], t: Gettext) -> None:
    _font(pdf, bold=True)
    pdf.write(_LINE, t("1. Thành phần hồ sơ nộp gồm:"))
    pdf.ln(_LINE + 1)
    _font(pdf, size=10)
    pdf.set_line_width(0.2)
    with pdf.table(
        col_widths=(12, 113, 45),
        text_align=(Align.C, Align.L, Align.C),
        line_height=5.5,
        padding=1.2,
        align=Align.L,
        borders_layout=TableBordersLayout.ALL,
        # A long list runs onto the next page; the heading row is repeated there.
        first_row_as_headings=True,
        headings_style=FontFace(emphasis="BOLD"),
    ) as table:
        heading = table.row()
        _ = t  # the name Babel's extractor looks for ("STT" has no Vietnamese letter to find)
        for text in (_("STT"), _("Tên giấy tờ"), _("Số lượng")):
            heading.cell(text)
        rows = 0
        for number, document in enumerate(documents, start=1):
            row = table.row()
            row.cell(f"{number:02d}")
            row.cell(_nfc(document.name))
            row.cell(_nfc(t(document.copies)))
            rows += 1
        if rows == 0:
            row = table.row()
            row.cell("")
            row.cell(t("(không có giấy tờ kèm theo)"))
            row.cell("")
    pdf.ln(3)


def _draw_terms(pdf: FPDF, slip: SlipData, lang: str) -> None:
    t = _gettext(lang)
    # The return time in bold: it is the line the citizen comes back for.
    terms = (
        (t("2. Phí, lệ phí"), format_fee_vnd(slip.fee_vnd, lang), False),
        (t("3. Thời gian nhận hồ sơ"), format_slip_time(slip.received_at, lang), False),
        (t("4. Thời gian trả kết quả"), format_slip_time(slip.due_at, lang), True),
    )
    for label, value, bold_value in terms:
        _font(pdf, bold=True)
        pdf.write(_LINE, f"{label}: ")
        _font(pdf, bold=bold_value)
        pdf.write(_LINE, value)
        pdf.ln(_LINE)
    pdf.ln(4)


def _draw_tracking(pdf: FPDF, url: str, t: Gettext) -> None:
    text_w = pdf.epw - _QR_SIZE - 6
    # Keep the code and its caption together: a QR split from its explanation is just noise.
    if pdf.get_y() + _TRACKING_BLOCK_HEIGHT > pdf.page_break_trigger:
        pdf.add_page()
    top = pdf.get_y()
    pdf.set_line_width(0.2)
    pdf.set_draw_color(150, 150, 150)
    pdf.rect(pdf.l_margin, top, pdf.epw, _QR_SIZE + 4)
    pdf.set_draw_color(0, 0, 0)
    _draw_qr(pdf, url, pdf.l_margin + 2, top + 2, _QR_SIZE)

    text_x = pdf.l_margin + _QR_SIZE + 5
    pdf.set_xy(text_x, top + 5)
    _font(pdf, bold=True, size=11)
    pdf.multi_cell(text_w, 6, t(QR_CAPTION), new_x=XPos.LEFT, new_y=YPos.NEXT)
    _font(pdf, size=9.5)
    pdf.multi_cell(
        text_w,
        5,
        t("Quét mã QR bằng điện thoại hoặc truy cập địa chỉ dưới đây để theo dõi tiến độ giải quyết hồ sơ:"),
        new_x=XPos.LEFT,
        new_y=YPos.NEXT,
    )
    _font(pdf, bold=True, size=9.5)
    pdf.set_text_color(0, 51, 153)
    # The visible URL is also a link, for whoever opens the PDF on screen rather than on paper.
    pdf.multi_cell(text_w, 5, url, link=url, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.set_xy(pdf.l_margin, top + _QR_SIZE + 6)
    _font(pdf, size=8.5)
    pdf.set_text_color(90, 90, 90)
    pdf.multi_cell(0, 4.5, t(AUTOMATIC_NOTE), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)


VERIFY_CAPTION = "Xác thực văn bản điện tử"
_VERIFY_QR_SIZE = 24.0


def draw_verification(pdf: FPDF, url: str, t: Gettext = str) -> None:
    """The signed copy's QR code to its public verification page, with the address in words."""
    if pdf.get_y() + _VERIFY_QR_SIZE + 6 > pdf.page_break_trigger:
        pdf.add_page()
    top = pdf.get_y() + 2
    _draw_qr(pdf, url, pdf.l_margin, top, _VERIFY_QR_SIZE)
    text_x = pdf.l_margin + _VERIFY_QR_SIZE + 3
    text_w = pdf.epw - _VERIFY_QR_SIZE - 3
    pdf.set_xy(text_x, top + 3)
    _font(pdf, bold=True, size=10)
    pdf.multi_cell(text_w, 5.5, t(VERIFY_CAPTION), new_x=XPos.LEFT, new_y=YPos.NEXT)
    _font(pdf, size=9)
    pdf.multi_cell(
        text_w,
        4.5,
        t("Văn bản có chữ ký số. Quét mã QR hoặc mở địa chỉ dưới đây để kiểm tra chữ ký và bản gốc đã lưu:"),
        new_x=XPos.LEFT,
        new_y=YPos.NEXT,
    )
    pdf.set_text_color(0, 51, 153)
    pdf.multi_cell(text_w, 4.5, url, link=url, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.set_xy(pdf.l_margin, top + _VERIFY_QR_SIZE + 2)


def _draw_qr(pdf: FPDF, url: str, x: float, y: float, size: float) -> None:
    matrix = qr_matrix(url)
    # The four-module quiet zone the QR standard asks for, inside the square, so a border drawn around
    # it can never touch the code.
    quiet = 4
    module = size / (len(matrix) + 2 * quiet)
    pdf.set_fill_color(0, 0, 0)
    for row_index, row in enumerate(matrix):
        column = 0
        width = len(row)
        # One rectangle per run of dark modules: a tenth of the drawing operators, and no hairline
        # seams between neighbouring modules when a viewer anti-aliases.
        while column < width:
            if not row[column]:
                column += 1
                continue
            start = column
            while column < width and row[column]:
                column += 1
            pdf.rect(
                x + (quiet + start) * module,
                y + (quiet + row_index) * module,
                (column - start) * module,
                module,
                style="F",
            )
    pdf.link(x, y, size, size, url)


def raise_on_missing_glyphs(pdf: FPDF) -> None:
    # fpdf2 only logs a warning and draws nothing for a character its font lacks; a slip with a
    # hole in the citizen's name is worse than no slip.
    missing = sorted(
        {
            chr(code)
            for font in pdf.fonts.values()
            if isinstance(font, TTFFont)
            for code in font.missing_glyphs
        }
    )
    if missing:
        listed = ", ".join(f"{char!r} (U+{ord(char):04X})" for char in missing)
        raise MissingGlyphError(f"{FONT_FAMILY} has no glyph for: {listed}")
