"""A PDF's signature checked with pyHanko's validator, and the verdict in words.

The technical check (``check_pdf``) knows nothing of tenants: integrity of the signed bytes, the
whole file covered, the signer's certificate chaining to a trust root, revocation. Whether the
signer is *this* authority, and whether the copy is the one it filed, is decided by
``services.verify_upload``/``verify_filed`` against the register.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from typing import TYPE_CHECKING

from motcua.identity.models import N_

if TYPE_CHECKING:
    from asn1crypto import x509 as asn1_x509

PDF_MAGIC = b"%PDF-"
log = logging.getLogger(__name__)


class NotAPdfError(ValueError):
    """The bytes are not a PDF (checked by content, not by name or declared type)."""


class Verdict(enum.StrEnum):
    VALID = "valid"
    MODIFIED = "modified"
    NOT_SIGNED = "not_signed"
    UNKNOWN_SIGNER = "unknown_signer"  # a signature, but not by a key of this authority
    REVOKED = "revoked"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def explanation(self) -> str:
        return _EXPLANATIONS[self]


_LABELS = {
    Verdict.VALID: N_("Chữ ký số hợp lệ"),
    Verdict.MODIFIED: N_("Văn bản đã bị sửa đổi sau khi ký"),
    Verdict.NOT_SIGNED: N_("Văn bản không có chữ ký số"),
    Verdict.UNKNOWN_SIGNER: N_("Chữ ký không phải của cơ quan này"),
    Verdict.REVOKED: N_("Chứng thư số đã bị thu hồi"),
    Verdict.EXPIRED: N_("Chứng thư số đã hết hạn"),
}
_EXPLANATIONS = {
    Verdict.VALID: N_("Văn bản còn nguyên vẹn từ khi được ký và chữ ký thuộc về cơ quan ban hành."),
    Verdict.MODIFIED: N_(
        "Nội dung tệp không còn khớp với chữ ký: văn bản đã bị chỉnh sửa hoặc hỏng. Không sử dụng bản này."
    ),
    Verdict.NOT_SIGNED: N_("Tệp không có chữ ký số nào, nên không thể xác định nguồn gốc."),
    Verdict.UNKNOWN_SIGNER: N_(
        "Văn bản được ký bằng chứng thư số không thuộc cơ quan này hoặc không được tin cậy."
    ),
    Verdict.REVOKED: N_("Chứng thư số dùng để ký văn bản đã bị thu hồi, nên chữ ký không còn giá trị."),
    Verdict.EXPIRED: N_("Chứng thư số dùng để ký văn bản đã hết hạn, nên chữ ký không được công nhận."),
}


@dataclass(frozen=True)
class PdfCheck:
    """What the validator found in one PDF."""

    verdict: Verdict
    certificate_serial: str | None = None
    certificate_subject: str | None = None
    signer_reported_at: datetime | None = None
    timestamped_at: datetime | None = None
    trusted: bool = False


def check_pdf(
    data: bytes,
    *,
    trust_roots: list[asn1_x509.Certificate],
    crls: list[bytes],
    revoked_serials: frozenset[int] = frozenset(),
    allow_fetching: bool = False,
) -> PdfCheck:
    """Blocking (parsing and hashing the file): call it from a worker thread."""
    # pyHanko is imported by what signs or checks, not at start: ~0.5 s a process that does neither.
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    if not data.startswith(PDF_MAGIC):
        raise NotAPdfError("not a PDF")
    try:
        reader = PdfFileReader(BytesIO(data), strict=False)
        signatures = reader.embedded_signatures
    except Exception:
        # A file that no longer parses as a PDF after signing has been tampered with or damaged.
        return PdfCheck(Verdict.MODIFIED)
    if not signatures:
        return PdfCheck(Verdict.NOT_SIGNED)
    # The last signature covers the most of the file; ours is the only one in what we issue.
    signature = signatures[-1]
    context = ValidationContext(
        trust_roots=trust_roots, crls=crls, allow_fetching=allow_fetching, revocation_mode="soft-fail"
    )
    try:
        status = validate_pdf_signature(signature, context)
    except (SignatureValidationError, PdfError, ValueError):
        return PdfCheck(Verdict.MODIFIED)
    except Exception:
        # A structure the validator did not expect in someone's upload: not a page error.
        log.warning("signature check failed on an unexpected structure", exc_info=True)
        return PdfCheck(Verdict.MODIFIED)
    cert = status.signing_cert
    found = {
        "certificate_serial": format(cert.serial_number, "x"),
        "certificate_subject": cert.subject.human_friendly,
        "signer_reported_at": status.signer_reported_dt,
        "timestamped_at": status.timestamp_validity.timestamp if status.timestamp_validity else None,
        "trusted": status.trusted,
    }
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    if not (status.intact and status.valid) or not whole:
        return PdfCheck(Verdict.MODIFIED, **found)
    if status.revoked or cert.serial_number in revoked_serials:
        return PdfCheck(Verdict.REVOKED, **found)
    if not status.trusted:
        if cert["tbs_certificate"]["validity"]["not_after"].native < datetime.now(UTC):
            return PdfCheck(Verdict.EXPIRED, **found)
        return PdfCheck(Verdict.UNKNOWN_SIGNER, **found)
    return PdfCheck(Verdict.VALID, **found)
