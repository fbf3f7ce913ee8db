"""The forms of ``paper_forms`` drawn as PDFs, with the slip's layout and fonts (``slip_pdf``);
imported by ``paper_forms.render_paper_form`` when a form is first drawn (fpdf2 is not loaded at
a process's start)."""

from __future__ import annotations

from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace

from motcua.core.theming import DEFAULT_LANGUAGE
from motcua.dossiers.paper_forms import (
    SIGNED_DIGITALLY,
    Apology,
    ControlSheet,
    FormHeading,
    FormKind,
    PaperForm,
    Refusal,
    SupplementRequest,
    format_form_date,
    kind_of,
    place_of,
    say,
    short_time,
    timeliness,
)
from motcua.dossiers.slip import Gettext, format_slip_time, gettext_for, nfc
from motcua.dossiers.slip_pdf import (
    draw_field,
    draw_official_header,
    draw_verification,
    new_official_pdf,
    raise_on_missing_glyphs,
    set_font,
)

_LINE = 6.0


def draw_paper_form(form: PaperForm, lang: str = DEFAULT_LANGUAGE) -> bytes:
    """paper_forms.render_paper_form's work."""
    _ = gettext_for(lang)
    kind = kind_of(form)
    h = form.heading
    pdf = new_official_pdf(
        f"{_(kind.label).capitalize()} - {nfc(h.dossier_code)}", h.agency_name, h.issued_at, lang=lang
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
        f"{nfc(place_of(h.tenant_name))}, {format_form_date(h.issued_at, lang)}",
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
        _("Mã hồ sơ: %(code)s") % {"code": nfc(h.dossier_code)},
        align=Align.C,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(4)


def _paragraph(pdf: FPDF, text: str, *, bold: bool = False) -> None:
    set_font(pdf, bold=bold)
    pdf.multi_cell(0, _LINE, nfc(text), align=Align.J, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


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
        % {"date": format_slip_time(h.received_at, lang), "agency": nfc(h.agency_name)},
    )
    set_font(pdf)
    for number, item in enumerate(form.items, start=1):
        pdf.set_x(pdf.l_margin + 6)
        pdf.multi_cell(0, _LINE, f"{number}. {nfc(item)}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
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
        % {"agency": nfc(h.agency_name)},
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
        % {"agency": nfc(h.agency_name)},
    )
    set_font(pdf, bold=True)
    pdf.set_x(pdf.l_margin + 6)
    pdf.multi_cell(0, _LINE, say(form.reason, _, lang), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    _paragraph(pdf, _("Xin thông báo để Ông/Bà được biết và thực hiện."))


def _draw_apology(pdf: FPDF, form: Apology, _: Gettext, lang: str) -> None:
    h = form.heading
    _paragraph(
        pdf,
        _("Lúc %(date)s, %(agency)s tiếp nhận giải quyết hồ sơ của:")
        % {"date": format_slip_time(h.received_at, lang), "agency": nfc(h.agency_name)},
    )
    _applicant(pdf, h, _)
    draw_field(pdf, _("Thời hạn trả kết quả đã hẹn"), format_slip_time(form.previous_due_at, lang))
    pdf.ln(2)
    _paragraph(
        pdf,
        _("Tuy nhiên đến nay, %(agency)s chưa trả được kết quả giải quyết hồ sơ của Ông/Bà.")
        % {"agency": nfc(h.agency_name)},
    )
    draw_field(pdf, _("Lý do"), form.reason)
    pdf.ln(1)
    _paragraph(
        pdf,
        _(
            "Sự chậm trễ này đã gây phiền hà cho Ông/Bà. %(agency)s xin lỗi Ông/Bà và hẹn lại "
            "thời gian trả kết quả vào:"
        )
        % {"agency": nfc(h.agency_name)},
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
        in_time = say(timeliness(form.finished_at, h.due_at), _, lang)
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
            row.cell(say(handover.giver, _, lang))
            row.cell(say(handover.receiver, _, lang))
            row.cell(say(handover.result, _, lang))
            row.cell(say(handover.remark, _, lang) if handover.remark else "")
    pdf.ln(3)


def _draw_signature(pdf: FPDF, title: str, signer_name: str, _: Gettext) -> None:
    # No room left for a hand signature: the digital one is the signature, and its visible stamp
    # goes in the last page's foot (signing.signers.STAMP_BOX), under the 15 mm margin kept free.
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
    pdf.multi_cell(width, _LINE, nfc(signer_name), align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(5)
