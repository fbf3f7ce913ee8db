from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, String, Text, func
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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PaymentEvent(TenantBase):
    __tablename__ = "payment_events"

    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
