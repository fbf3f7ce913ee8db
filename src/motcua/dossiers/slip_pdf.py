"""The product's PDFs drawn with fpdf2: the A4 administrative layout (Decree 30/2020 header, the
embedded DejaVu Sans of core.pdf_fonts, fields, QR codes) and the appointment slip on it. The
paper forms (``paper_forms_pdf``) and the receipts (``payments.receipts_pdf``) are drawn with the
same parts.

Imported by the functions that render (``slip.render_slip_pdf`` and its kind), never at a
module's top: fpdf2 and fontTools take about half a second to import, which a process that draws
no document should not pay at start.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import cast

from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace, TTFFont

from motcua.core.messages import in_language
from motcua.core.pdf_fonts import font_bytes
from motcua.core.theming import DEFAULT_LANGUAGE
from motcua.dossiers.slip import (
    AUTOMATIC_NOTE,
    FONT_CUTS,
    FONT_FAMILY,
    QR_CAPTION,
    SLIP_TITLE,
    Gettext,
    MissingGlyphError,
    SlipData,
    SlipDocument,
    format_fee_vnd,
    format_slip_time,
    gettext_for,
    nfc,
    qr_matrix,
)

_LEFT_MARGIN = 25.0
_RIGHT_MARGIN = 15.0
_TOP_MARGIN = 15.0
_BODY_SIZE = 11.0
_LINE = 6.0
_QR_SIZE = 32.0
# The framed QR, its caption and the note under the frame.
_TRACKING_BLOCK_HEIGHT = _QR_SIZE + 16


def draw_slip(slip: SlipData, lang: str = DEFAULT_LANGUAGE, *, verification_url: str | None = None) -> bytes:
    """slip.render_slip_pdf's work."""
    t = gettext_for(lang)
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
        f"{t(SLIP_TITLE).capitalize()} - {nfc(slip.dossier_code)}",
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
    pdf.set_title(nfc(title))
    pdf.set_author(nfc(author))
    pdf.set_creator("motcua")
    pdf.set_creation_date(created)
    return pdf


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
    pdf.multi_cell(left_w, 5, nfc(tenant_name).upper(), align=Align.C, new_x=XPos.LMARGIN)
    _font(pdf, bold=True, size=9.5)
    pdf.multi_cell(left_w, 5, nfc(agency_name).upper(), align=Align.C, new_x=XPos.LMARGIN)
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
    code_line = t("Mã hồ sơ: %(code)s") % {"code": nfc(slip.dossier_code)}
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
    pdf.write(_LINE, nfc(value))
    pdf.ln(_LINE)


def _draw_applicant(pdf: FPDF, slip: SlipData, t: Gettext) -> None:
    _font(pdf)
    pdf.multi_cell(
        0,
        _LINE,
        t("%(agency)s tiếp nhận hồ sơ của:") % {"agency": nfc(slip.agency_name)},
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
            row.cell(nfc(document.name))
            row.cell(nfc(t(document.copies)))
            rows += 1
        if rows == 0:
            row = table.row()
            row.cell("")
            row.cell(t("(không có giấy tờ kèm theo)"))
            row.cell("")
    pdf.ln(3)


def _draw_terms(pdf: FPDF, slip: SlipData, lang: str) -> None:
    t = gettext_for(lang)
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
