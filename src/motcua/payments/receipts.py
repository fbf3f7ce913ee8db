"""Electronic receipts (biên lai điện tử) for fees paid online or at the desk.

A receipt is issued in the same transaction that records the payment as succeeded, numbered
without gaps in a yearly series (the upsert on ``receipt_sequences`` locks the series row until
commit, as dossier codes do), and keeps a snapshot of what was paid, so it never changes when
the dossier does (a database trigger refuses any update). The HTML page and the PDF are drawn
from that snapshot: the same receipt always gives the same bytes. After commit a job draws the
PDF once into the tenant's storage (``receipt_files``), so downloads are file reads; until it
has, the PDF is drawn on request. The citizen finds it in their document store and on the
dossier. The filed PDF is the Vietnamese original; a reader using the portal in another language
gets a translation of its labels drawn on request, which says that it is one.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

import anyio.to_thread
from fpdf.enums import Align, XPos, YPos
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.tenant import Tenant
from motcua.core.theming import DEFAULT_LANGUAGE, LANGUAGES, translations
from motcua.dossiers.models import Dossier
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
from motcua.dossiers.storage import Storage, StoredObject
from motcua.identity.schemas import mask_personal_id
from motcua.payments.models import Payment, PaymentMethod, Receipt, ReceiptFile, ReceiptSequence
from motcua.signing.models import DocumentKind, SignedDocument
from motcua.signing.services import (
    Signing,
    SigningRefusedError,
    new_document_id,
    sign_and_file,
    verification_url,
)

log = logging.getLogger(__name__)

StoredFile = StoredObject | SignedDocument

RECEIPT_TITLE = "BIÊN LAI THU PHÍ, LỆ PHÍ"
RECEIPT_NOTE = "Biên lai điện tử do hệ thống dịch vụ công lập khi khoản thu được ghi nhận."
TRANSLATION_NOTE = "Bản dịch để tham khảo; bản gốc có giá trị là biên lai bằng tiếng Việt."

_DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")


def _three(n: int, *, full: bool) -> list[str]:
    """A group of three digits read aloud; ``full`` reads leading zeros ("không trăm linh năm")."""
    hundreds, tens, units = n // 100, n // 10 % 10, n % 10
    words: list[str] = []
    if full or hundreds:
        words += [_DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units:
            words += (["linh"] if words else []) + [_DIGITS[units]]
    elif tens == 1:
        words.append("mười")
        if units:
            words.append("lăm" if units == 5 else _DIGITS[units])
    else:
        words += [_DIGITS[tens], "mươi"]
        if units:
            words.append({1: "mốt", 5: "lăm"}.get(units, _DIGITS[units]))
    return words


def _read(n: int, *, full: bool = False) -> list[str]:
    if n >= 1_000_000_000:
        high, low = divmod(n, 1_000_000_000)
        return _read(high, full=full) + ["tỷ"] + (_read(low, full=True) if low else [])
    words: list[str] = []
    groups = [(n // 1_000_000, "triệu"), (n // 1000 % 1000, "nghìn"), (n % 1000, "")]
    for value, unit in groups:
        if value == 0:
            continue
        words += _three(value, full=full or bool(words)) + ([unit] if unit else [])
    return words


def amount_in_words(amount_vnd: int) -> str:
    """50000 → "Năm mươi nghìn đồng": receipts state the amount in words as well as figures."""
    if amount_vnd < 0:
        raise ValueError("an amount cannot be negative")
    words = _read(amount_vnd) if amount_vnd else ["không"]
    text = " ".join([*words, "đồng"])
    return text[0].upper() + text[1:]


_EN_SMALL = (
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen"),
    "nineteen",
)
_EN_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_EN_SCALES = ((1_000_000_000, "billion"), (1_000_000, "million"), (1000, "thousand"))


def _english(n: int) -> str:
    for size, name in _EN_SCALES:
        if n >= size:
            high, low = divmod(n, size)
            return f"{_english(high)} {name}" + (f" {_english(low)}" if low else "")
    if n >= 100:
        high, low = divmod(n, 100)
        return f"{_EN_SMALL[high]} hundred" + (f" {_english(low)}" if low else "")
    if n >= 20:
        tens, units = divmod(n, 10)
        return _EN_TENS[tens] + (f"-{_EN_SMALL[units]}" if units else "")
    return _EN_SMALL[n]


def amount_in_english_words(amount_vnd: int) -> str:
    """50000 → "Fifty thousand dong"."""
    if amount_vnd < 0:
        raise ValueError("an amount cannot be negative")
    text = f"{_english(amount_vnd)} dong"
    return text[0].upper() + text[1:]


def series_for(moment: datetime) -> str:
    """One series a year, in Vietnam time: "BL2026"."""
    return f"BL{moment.astimezone(VIETNAM_TZ):%Y}"


async def issue_receipt(
    session: AsyncSession,
    payment: Payment,
    tenant: Tenant,
    *,
    issued_at: datetime,
    collected_by: str | None = None,
) -> Receipt:
    """The payment's receipt, issued now unless it already has one (issuing is idempotent)."""
    existing = await session.scalar(select(Receipt).where(Receipt.payment_id == payment.id))
    if existing is not None:
        return existing
    dossier = await session.get(Dossier, payment.dossier_id)
    assert dossier is not None
    series = series_for(issued_at)
    number = await session.scalar(
        pg_insert(ReceiptSequence)
        .values(series=series, last=1)
        .on_conflict_do_update(
            index_elements=[ReceiptSequence.series], set_={"last": ReceiptSequence.last + 1}
        )
        .returning(ReceiptSequence.last)
    )
    assert number is not None
    receipt = Receipt(
        series=series,
        number=number,
        payment_id=payment.id,
        dossier_id=dossier.id,
        citizen_id=dossier.citizen_id,
        issuer_name=tenant.name,
        dossier_code=dossier.code,
        procedure_name=dossier.procedure_name,
        payer_name=dossier.applicant_name,
        payer_personal_id_masked=mask_personal_id(dossier.applicant_personal_id),
        amount_vnd=payment.amount_vnd,
        method=payment.method,
        provider_payment_ref=payment.provider_payment_ref,
        collected_by=collected_by,
        issued_at=issued_at,
    )
    session.add(receipt)
    await session.flush()
    return receipt


async def receipts_of_citizen(session: AsyncSession, citizen_id: int) -> list[Receipt]:
    return list(
        (
            await session.scalars(
                select(Receipt).where(Receipt.citizen_id == citizen_id).order_by(Receipt.id.desc())
            )
        ).all()
    )


async def receipt_file(session: AsyncSession, receipt_id: int) -> ReceiptFile | None:
    return await session.get(ReceiptFile, receipt_id)


async def file_receipt_pdf(
    session: AsyncSession,
    storage: Storage,
    tenant: Tenant,
    receipt: Receipt,
    *,
    signing: Signing | None = None,
    origin: str | None = None,
) -> ReceiptFile:
    """Draw the receipt's PDF into the tenant's storage, once (a repeat finds it filed). With
    ``signing`` the filed PDF carries a QR code to its verification page (``origin``: the tenant
    site's ``scheme://host``) and is signed with the tenant's key and registered with the dossier."""
    filed = await receipt_file(session, receipt.id)
    if filed is not None:
        return filed
    stored: StoredFile | None = None
    if signing is not None and origin is not None:
        document_id = new_document_id()
        pdf = await anyio.to_thread.run_sync(
            partial(render_receipt_pdf, receipt, verification_url=verification_url(origin, document_id))
        )
        try:
            stored = await sign_and_file(
                session,
                tenant,
                signing=signing,
                document_id=document_id,
                pdf=pdf,
                title=f"Biên lai {receipt.series} số {receipt.display_number}",
                kind=DocumentKind.RECEIPT,
                dossier_id=receipt.dossier_id,
                unit_id=None,
                signer_name=receipt.issuer_name,
            )
        except SigningRefusedError as exc:
            # The payment stands and the citizen needs their receipt: filed unsigned, and said.
            log.warning("receipt %s of %s filed unsigned: %s", receipt.id, tenant.slug, exc)
    if stored is None:
        pdf = await anyio.to_thread.run_sync(render_receipt_pdf, receipt)
        stored = await storage.put(tenant.schema, pdf, media_type="application/pdf")
    key = stored.storage_key if isinstance(stored, SignedDocument) else stored.key
    inserted = await session.scalar(
        pg_insert(ReceiptFile)
        .values(receipt_id=receipt.id, storage_key=key, size=stored.size, sha256=stored.sha256)
        .on_conflict_do_nothing()
        .returning(ReceiptFile.receipt_id)
    )
    if inserted is None:  # filed meanwhile by another worker: keep theirs, drop ours
        await storage.delete(tenant.schema, key)
        if isinstance(stored, SignedDocument):
            await session.delete(stored)
    filed = await receipt_file(session, receipt.id)
    assert filed is not None
    return filed


def _vnd_text(amount: int, lang: str = DEFAULT_LANGUAGE) -> str:
    if lang == "en":
        return f"{amount:,} dong"
    return f"{amount:,}".replace(",", ".") + " đồng"


def render_receipt_pdf(
    receipt: Receipt, lang: str = DEFAULT_LANGUAGE, *, verification_url: str | None = None
) -> bytes:
    """The receipt as a PDF: Vietnamese (the original, filed once), or its labels translated
    into ``lang`` with a note saying the Vietnamese receipt is the original. The signed original
    carries a QR code to its verification page (``verification_url``)."""
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    t = translations(lang).gettext
    pdf = new_official_pdf(
        t("Biên lai %(series)s số %(number)s") % {"series": receipt.series, "number": receipt.display_number},
        receipt.issuer_name,
        receipt.issued_at,
        lang=lang,
    )
    pdf.add_page()
    draw_official_header(pdf, receipt.issuer_name, t("Bộ phận Một cửa"), t)
    set_font(pdf, bold=True, size=13.5)
    pdf.multi_cell(0, 7, t(RECEIPT_TITLE), align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    set_font(pdf, size=11)
    pdf.multi_cell(
        0,
        6,
        t("Ký hiệu: %(series)s    Số: %(number)s")
        % {"series": receipt.series, "number": receipt.display_number},
        align=Align.C,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(4)
    in_words = amount_in_english_words if lang == "en" else amount_in_words
    draw_field(pdf, t("Họ tên người nộp"), receipt.payer_name, bold_value=True)
    draw_field(pdf, t("Số định danh cá nhân"), receipt.payer_personal_id_masked)
    draw_field(
        pdf, t("Nội dung thu"), t("Phí, lệ phí: %(procedure)s") % {"procedure": receipt.procedure_name}
    )
    draw_field(pdf, t("Mã hồ sơ"), receipt.dossier_code)
    draw_field(pdf, t("Số tiền"), _vnd_text(receipt.amount_vnd, lang), bold_value=True)
    draw_field(pdf, t("Bằng chữ"), in_words(receipt.amount_vnd))
    draw_field(pdf, t("Hình thức thanh toán"), t(PaymentMethod(receipt.method).label))
    if receipt.provider_payment_ref:
        draw_field(pdf, t("Mã giao dịch"), receipt.provider_payment_ref)
    draw_field(pdf, t("Thời điểm lập"), format_slip_time(receipt.issued_at, lang))
    pdf.ln(4)
    set_font(pdf, size=9.5)
    pdf.multi_cell(0, 5, t(RECEIPT_NOTE), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if lang != DEFAULT_LANGUAGE:
        pdf.multi_cell(0, 5, t(TRANSLATION_NOTE), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if verification_url is not None:
        draw_verification(pdf, verification_url, t)
    raise_on_missing_glyphs(pdf)
    return bytes(pdf.output())
