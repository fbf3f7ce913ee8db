"""The appointment slip (phiếu tiếp nhận hồ sơ và hẹn trả kết quả) as a PDF and its QR code as SVG.

The layout follows mẫu số 01 of Circular 01/2018/TT-VPCP. Text is set in DejaVu Sans, embedded and
subset, so every Vietnamese letter is real, searchable text on any reader. The labels are drawn in the
language of whoever downloads it (``lang``; Vietnamese msgids, translated with the UI's catalogue);
the data (names, the procedure, the documents) stays as it was written.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache, partial

import anyio.to_thread
import segno
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.models import Procedure
from motcua.core.actions import Job, enqueue, savepoint
from motcua.core.messages import Message
from motcua.core.pdf_fonts import DOCUMENT_BOLD, DOCUMENT_REGULAR
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
        return gettext_for(lang)("Miễn phí")
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


def gettext_for(lang: str) -> Gettext:
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
    # fpdf2 (and fontTools) on the first document, not at every process's start (~0.45 s).
    from motcua.dossiers.slip_pdf import draw_slip

    return draw_slip(slip, lang, verification_url=verification_url)


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
        title=f"{SLIP_TITLE.capitalize()} - {nfc(slip.dossier_code)}",
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


def nfc(text: str) -> str:
    # Decomposed input (NFD from some keyboards and browsers) would put stacked combining marks next to
    # the letter instead of on it: the font has a precomposed glyph for every Vietnamese letter.
    return unicodedata.normalize("NFC", text)
