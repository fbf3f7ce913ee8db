"""The daily payments report of a tenant: what was collected (by method), refunded, and what
needs a person (payments in review, checkouts that never finished), per day in Vietnam time.

Computed from the receipts and refunds themselves, so recomputing a day gives the same figures;
the job stores yesterday's once an hour (idempotent upsert), and the page adds today so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.messages import Figure
from motcua.dossiers.slip import VIETNAM_TZ
from motcua.payments.models import (
    Payment,
    PaymentDailyReport,
    PaymentMethod,
    PaymentStatus,
    Receipt,
    Refund,
    RefundStatus,
)


def vietnam_today(now: datetime | None = None) -> date:
    return (now or datetime.now(VIETNAM_TZ)).astimezone(VIETNAM_TZ).date()


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=VIETNAM_TZ)
    return start, start + timedelta(days=1)


async def compute_day(session: AsyncSession, day: date) -> dict[str, Any]:
    start, end = _bounds(day)
    by_method = {m.value: {"count": 0, "vnd": 0} for m in PaymentMethod}
    rows = await session.execute(
        select(Receipt.method, func.count(), func.coalesce(func.sum(Receipt.amount_vnd), 0))
        .where(Receipt.issued_at >= start, Receipt.issued_at < end)
        .group_by(Receipt.method)
    )
    for method, count, vnd in rows:
        by_method[method] = {"count": int(count), "vnd": int(vnd)}
    platform_fee = await session.scalar(
        select(func.coalesce(func.sum(Payment.platform_fee_vnd), 0))
        .join(Receipt, Receipt.payment_id == Payment.id)
        .where(Receipt.issued_at >= start, Receipt.issued_at < end)
    )
    refunds = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(Refund.amount_vnd), 0)).where(
                Refund.status == RefundStatus.SUCCEEDED, Refund.updated_at >= start, Refund.updated_at < end
            )
        )
    ).one()
    unfinished = await session.scalar(
        select(func.count())
        .select_from(Payment)
        .where(
            Payment.created_at >= start,
            Payment.created_at < end,
            Payment.status.in_((PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.EXPIRED)),
        )
    )
    review = await session.scalar(
        select(func.count()).select_from(Payment).where(Payment.status == PaymentStatus.REVIEW)
    )
    return {
        "receipts": sum(v["count"] for v in by_method.values()),
        "collected_vnd": sum(v["vnd"] for v in by_method.values()),
        "by_method": by_method,
        "platform_fee_vnd": int(platform_fee or 0),
        "refunds": int(refunds[0]),
        "refunded_vnd": int(refunds[1]),
        "unfinished": int(unfinished or 0),
        "in_review": int(review or 0),
    }


async def store_day(session: AsyncSession, day: date) -> dict[str, Any]:
    totals = await compute_day(session, day)
    await session.execute(
        pg_insert(PaymentDailyReport)
        .values(day=day, totals=totals)
        .on_conflict_do_update(index_elements=[PaymentDailyReport.day], set_={"totals": totals})
    )
    return totals


async def recent_reports(session: AsyncSession, limit: int = 31) -> list[PaymentDailyReport]:
    return list(
        (
            await session.scalars(
                select(PaymentDailyReport).order_by(PaymentDailyReport.day.desc()).limit(limit)
            )
        ).all()
    )


async def needing_attention(session: AsyncSession, limit: int = 100) -> list[tuple[Payment, str]]:
    """Payments a person must look at (amount mismatch, paid twice), with their dossier code."""
    from motcua.dossiers.models import Dossier

    rows = await session.execute(
        select(Payment, Dossier.code)
        .join(Dossier, Dossier.id == Payment.dossier_id)
        .where(Payment.status == PaymentStatus.REVIEW, Payment.refunded_vnd < Payment.amount_vnd)
        .order_by(Payment.id)
        .limit(limit)
    )
    return [(payment, code) for payment, code in rows]


@dataclass(frozen=True)
class OnlinePaymentRate:
    """Decree 42/2022's online payment rate for a month: dossiers whose fees were paid online
    ÷ dossiers with fees (received that month, Vietnam time)."""

    month: date
    with_fees: int
    paid_online: int

    @property
    def percent(self) -> Figure | None:
        """The rate as a percentage, written the reader's way (``.text(lang)``: "45,5" / "45.5",
        "0" rather than the programmer's "0.0")."""
        return Figure(Fraction(100 * self.paid_online, self.with_fees), places=1) if self.with_fees else None


async def online_payment_rate(session: AsyncSession, month: date) -> OnlinePaymentRate:
    from motcua.dossiers.models import Dossier

    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    start = datetime.combine(first, time.min, tzinfo=VIETNAM_TZ)
    end = datetime.combine(following, time.min, tzinfo=VIETNAM_TZ)
    paid_online = (
        select(Payment.id)
        .where(
            Payment.dossier_id == Dossier.id,
            Payment.method == PaymentMethod.ONLINE,
            Payment.status == PaymentStatus.SUCCEEDED,
        )
        .exists()
    )
    row = (
        await session.execute(
            select(func.count(), func.count().filter(paid_online)).where(
                Dossier.fee_vnd > 0, Dossier.received_at >= start, Dossier.received_at < end
            )
        )
    ).one()
    return OnlinePaymentRate(month=first, with_fees=int(row[0]), paid_online=int(row[1]))
