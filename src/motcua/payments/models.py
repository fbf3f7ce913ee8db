from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from motcua.core.models import TenantBase


class PaymentStatus(enum.StrEnum):
    CREATED = "created"
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUNDED = "refunded"
    REVIEW = "review"  # the provider reported something that does not match: a person looks

    @property
    def label(self) -> str:
        return {
            "created": "Chưa thanh toán",
            "started": "Đang chờ xác nhận thanh toán",
            "succeeded": "Đã thanh toán",
            "failed": "Thanh toán không thành công",
            "cancelled": "Đã hủy thanh toán",
            "expired": "Phiên thanh toán đã hết hạn",
            "refunded": "Đã hoàn tiền",
            "review": "Đang được kiểm tra lại",
        }[self.value]


# How far along a payment is: an event may only move it forward (events arrive out of order).
RANK = {
    PaymentStatus.CREATED: 0,
    PaymentStatus.STARTED: 1,
    PaymentStatus.FAILED: 2,
    PaymentStatus.CANCELLED: 2,
    PaymentStatus.EXPIRED: 2,
    PaymentStatus.SUCCEEDED: 3,
    PaymentStatus.REVIEW: 4,
    PaymentStatus.REFUNDED: 5,
}


class Payment(TenantBase):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    provider: Mapped[str] = mapped_column(String(20))
    amount_vnd: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="vnd")
    status: Mapped[str] = mapped_column(String(16))
    provider_ref: Mapped[str | None] = mapped_column(String(100))
    provider_payment_ref: Mapped[str | None] = mapped_column(String(100))
    account: Mapped[str] = mapped_column(String(100))
    origin: Mapped[str] = mapped_column(String(300), default="")
    review_reason: Mapped[str | None] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(10), default="online")  # online, cash, pos
    refunded_vnd: Mapped[int] = mapped_column(BigInteger, default=0)
    platform_fee_vnd: Mapped[int] = mapped_column(BigInteger, default=0)
    item_name: Mapped[str] = mapped_column(String(300), default="")
    checkout_url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PaymentEvent(TenantBase):
    __tablename__ = "payment_events"

    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PaymentMethod(enum.StrEnum):
    ONLINE = "online"  # through the provider's checkout
    CASH = "cash"  # at the one-stop desk
    POS = "pos"  # card terminal at the desk

    @property
    def label(self) -> str:
        return {
            "online": "Thanh toán trực tuyến qua cổng thanh toán",
            "cash": "Tiền mặt tại Bộ phận Một cửa",
            "pos": "Thẻ qua máy POS tại Bộ phận Một cửa",
        }[self.value]


class ReceiptSequence(TenantBase):
    __tablename__ = "receipt_sequences"

    series: Mapped[str] = mapped_column(String(20), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Receipt(TenantBase):
    """Biên lai điện tử: a snapshot of one succeeded payment, numbered, never changed."""

    __tablename__ = "receipts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    series: Mapped[str] = mapped_column(String(20))
    number: Mapped[int] = mapped_column(Integer)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), unique=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"))
    issuer_name: Mapped[str] = mapped_column(String(300))
    dossier_code: Mapped[str] = mapped_column(String(80))
    procedure_name: Mapped[str] = mapped_column(String(300))
    payer_name: Mapped[str] = mapped_column(String(200))
    payer_personal_id_masked: Mapped[str] = mapped_column(String(12))
    amount_vnd: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(10))
    provider_payment_ref: Mapped[str | None] = mapped_column(String(100))
    collected_by: Mapped[str | None] = mapped_column(String(12))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def display_number(self) -> str:
        return f"{self.number:07d}"


class ReceiptFile(TenantBase):
    """The receipt's PDF in the tenant's storage, drawn once from the receipt's snapshot."""

    __tablename__ = "receipt_files"

    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"), primary_key=True)
    storage_key: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RefundStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return {"pending": "đang chờ cổng thanh toán", "succeeded": "đã hoàn", "failed": "không thành công"}[
            self.value
        ]


class Refund(TenantBase):
    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"))
    amount_vnd: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    officer: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(10))
    provider_ref: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PaymentDailyReport(TenantBase):
    __tablename__ = "payment_daily_reports"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    totals: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
