"""The register of signed documents: one row per signed PDF the authority issued and filed."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from motcua.core.models import TenantBase
from motcua.identity.models import N_


class DocumentKind(enum.StrEnum):
    """What a signed document is, with the words people read."""

    SLIP = "slip"
    RECEIPT = "receipt"
    RESULT = "result"
    SUPPLEMENT_REQUEST = "supplement_request"
    REFUSAL = "refusal"
    APOLOGY = "apology"
    CONTROL_SHEET = "control_sheet"

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]


_KIND_LABELS = {
    DocumentKind.SLIP: N_("Giấy tiếp nhận hồ sơ và hẹn trả kết quả"),
    DocumentKind.RECEIPT: N_("Biên lai thu phí, lệ phí"),
    DocumentKind.RESULT: N_("Kết quả giải quyết thủ tục hành chính"),
    DocumentKind.SUPPLEMENT_REQUEST: N_("Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ"),
    DocumentKind.REFUSAL: N_("Phiếu từ chối tiếp nhận giải quyết hồ sơ"),
    DocumentKind.APOLOGY: N_("Phiếu xin lỗi và hẹn lại ngày trả kết quả"),
    DocumentKind.CONTROL_SHEET: N_("Phiếu kiểm soát quá trình giải quyết hồ sơ"),
}


class SignedDocument(TenantBase):
    __tablename__ = "signed_documents"

    # dossier_id and unit_id are foreign keys in the migration (t0019); not declared here, so the
    # signing layer's model needs neither the dossiers' nor the units' tables loaded.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    dossier_id: Mapped[int | None] = mapped_column(BigInteger)
    unit_id: Mapped[int | None] = mapped_column(BigInteger)
    issuer_name: Mapped[str] = mapped_column(String(300))
    signer_name: Mapped[str] = mapped_column(String(200))
    certificate_serial: Mapped[str] = mapped_column(String(80))
    certificate_subject: Mapped[str] = mapped_column(String(500))
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    timestamped: Mapped[bool] = mapped_column(Boolean, default=False)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(200))
    citizen_visible: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
