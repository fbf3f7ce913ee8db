from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Integer, SmallInteger, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from motcua.core.models import TenantBase


class DossierStatus(enum.StrEnum):
    """DOMAIN.md statuses; the Vietnamese label is what people see."""

    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    IN_PROGRESS = "in_progress"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    PAYMENT_REQUESTED = "payment_requested"
    WITHDRAWN = "withdrawn"
    STOPPED = "stopped"
    PROCESSED = "processed"
    DELIVERED = "delivered"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    DossierStatus.SUBMITTED: "Mới đăng ký",
    DossierStatus.ACCEPTED: "Được tiếp nhận",
    DossierStatus.REFUSED: "Không được tiếp nhận",
    DossierStatus.IN_PROGRESS: "Đang xử lý",
    DossierStatus.SUPPLEMENT_REQUESTED: "Yêu cầu bổ sung",
    DossierStatus.PAYMENT_REQUESTED: "Yêu cầu nghĩa vụ tài chính",
    DossierStatus.WITHDRAWN: "Công dân rút hồ sơ",
    DossierStatus.STOPPED: "Dừng xử lý",
    DossierStatus.PROCESSED: "Đã xử lý xong",
    DossierStatus.DELIVERED: "Đã trả kết quả",
}

# A citizen may withdraw a dossier until it has been processed (DOMAIN: "not yet processed").
WITHDRAWABLE = frozenset(
    {
        DossierStatus.SUBMITTED,
        DossierStatus.ACCEPTED,
        DossierStatus.IN_PROGRESS,
        DossierStatus.SUPPLEMENT_REQUESTED,
        DossierStatus.PAYMENT_REQUESTED,
    }
)


class Channel(enum.IntEnum):
    """How a dossier arrived; each is counted by the indicators (DOMAIN: channels)."""

    IN_PERSON = 1  # at the one-stop desk (walk-in)
    ONLINE = 2  # on this tenant's own portal
    POSTAL = 3  # by the public postal service
    NATIONAL_PORTAL = 4  # through the integration API, from the national public-service portal

    @property
    def label(self) -> str:
        return CHANNEL_LABELS[self]


CHANNEL_LABELS = {
    Channel.IN_PERSON: "Trực tiếp tại Bộ phận Một cửa",
    Channel.ONLINE: "Trực tuyến trên cổng của địa phương",
    Channel.POSTAL: "Qua dịch vụ bưu chính công ích",
    Channel.NATIONAL_PORTAL: "Qua Cổng Dịch vụ công quốc gia",
}


class Delivery(enum.StrEnum):
    """How the applicant receives the result: at the one-stop desk, by the public postal service
    (Decree 61/2018 on the one-stop mechanism), or online."""

    DESK = "desk"
    POST = "post"  # to the postal address the applicant gives
    ONLINE = "online"  # the electronic result, in the applicant's account

    @property
    def label(self) -> str:
        return DELIVERY_LABELS[self]


DELIVERY_LABELS = {
    Delivery.DESK: "Nhận trực tiếp tại Bộ phận Một cửa",
    Delivery.POST: "Nhận qua dịch vụ bưu chính công ích",
    Delivery.ONLINE: "Nhận bản điện tử trên Cổng dịch vụ công",
}


def entered_by_officer(channel: int, submitted_by_citizen: bool) -> bool:
    """An officer typed the dossier in, at the desk or from the post, on the applicant's behalf."""
    return channel in (Channel.IN_PERSON, Channel.POSTAL) and not submitted_by_citizen


class Dossier(TenantBase):
    __tablename__ = "dossiers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id"))
    procedure_code: Mapped[str] = mapped_column(String(40))
    procedure_name: Mapped[str] = mapped_column(String(300))
    form_version: Mapped[int] = mapped_column(Integer)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"))
    applicant_name: Mapped[str] = mapped_column(String(200))
    applicant_personal_id: Mapped[str] = mapped_column(String(12))
    # The contact the appointment slip shows, as given at the desk, by post or through the API
    # (online, the form's contact_phone answer is shown instead): kept with the dossier so that
    # the slip is the same document whenever it is signed.
    applicant_phone: Mapped[str | None] = mapped_column(String(32))
    applicant_address: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(24))
    channel: Mapped[int] = mapped_column(SmallInteger)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    fee_vnd: Mapped[int] = mapped_column(BigInteger, default=0)
    agency_code: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reception_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    pauses: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    assigned_to: Mapped[str | None] = mapped_column(String(12))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    supplement: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # False when an officer (desk, post) or a system entered it on the applicant's behalf.
    submitted_by_citizen: Mapped[bool] = mapped_column(default=True)
    source_system: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(128))
    intake_client_id: Mapped[int | None] = mapped_column(BigInteger)
    delivery_method: Mapped[str] = mapped_column(String(12), default=Delivery.DESK)
    postal_address: Mapped[str | None] = mapped_column(Text)
    # The unit whose desk received it and the unit that decides it (organisation.models.Unit);
    # None for dossiers from before units existed. A transfer changes the deciding unit.
    receiving_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    deciding_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def status_label(self) -> str:
        return DossierStatus(self.status).label

    @property
    def channel_label(self) -> str:
        return Channel(self.channel).label

    @property
    def entered_by_officer(self) -> bool:
        return entered_by_officer(self.channel, self.submitted_by_citizen)

    @property
    def delivery_label(self) -> str:
        return Delivery(self.delivery_method).label


class DossierHistory(TenantBase):
    """Append-only (a database trigger refuses UPDATE and DELETE)."""

    __tablename__ = "dossier_history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(200))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    # What a person typed (an officer's reason), shown as typed; rows written before t0020 hold
    # here whatever was written, the product's own words included, and are shown as they are.
    reason: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(64))
    # What the product itself wrote ("Số tiền phải nộp: 16.000 đồng"): a message (msgid and
    # values, core.messages.message_to_json) that each reader reads in their own language.
    message: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class DossierDraft(TenantBase):
    __tablename__ = "dossier_drafts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"))
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id"))
    form_version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    # None until the applicant chooses (step 4 of applying).
    delivery_method: Mapped[str | None] = mapped_column(String(12))
    postal_address: Mapped[str | None] = mapped_column(Text)
    # The commune, ward or special zone chosen for a commune-level procedure (organisation.routing).
    receiving_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DossierFile(TenantBase):
    __tablename__ = "dossier_files"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"))
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("dossier_drafts.id", ondelete="SET NULL"))
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id"))
    document_code: Mapped[str] = mapped_column(String(40))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # A paper document scanned at the desk (Decree 107/2021 digitisation).
    digitised: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DossierSequence(TenantBase):
    __tablename__ = "dossier_sequences"

    agency_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class ApologySlip(TenantBase):
    """Phiếu xin lỗi và hẹn lại: issued when a dossier will be late, with the new date."""

    __tablename__ = "apology_slips"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    previous_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    new_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text)
    issued_by: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DeadlineNotice(TenantBase):
    __tablename__ = "deadline_notices"

    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    noticed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
