from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, DateTime, Integer, SmallInteger, String, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from motcua.core.models import TenantBase

# Procedure and channel 0: feedback that is not about a dossier.
NO_PROCEDURE = 0
NO_CHANNEL = 0
# Unit 0: a tenant with no unit at all (a dossier without a receiving unit, and feedback about no
# dossier, count for the root unit, the service centre, where there is one).
NO_UNIT = 0

# The counters of a rollup row, in the order of the table (reporting.rollups says what each counts).
COUNTERS = (
    "received",
    "received_online",
    "online_by_citizen",
    "finished",
    "finished_on_time",
    "finished_late",
    "withdrawn",
    "refused",
    "with_fees",
    "paid_online",
    "digitised",
    "ratings",
    "rating_sum",
    "rating_1",
    "rating_2",
    "rating_3",
    "rating_4",
    "rating_5",
    "feedback",
    "feedback_on_time",
)


class ReportingDay(TenantBase):
    """The counters of one Vietnam-time day, procedure, channel and receiving unit; recomputed
    whole, never incremented."""

    __tablename__ = "reporting_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    procedure_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    channel: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    unit_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    received: Mapped[int] = mapped_column(Integer, default=0)
    received_online: Mapped[int] = mapped_column(Integer, default=0)
    online_by_citizen: Mapped[int] = mapped_column(Integer, default=0)
    finished: Mapped[int] = mapped_column(Integer, default=0)
    finished_on_time: Mapped[int] = mapped_column(Integer, default=0)
    finished_late: Mapped[int] = mapped_column(Integer, default=0)
    withdrawn: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)
    with_fees: Mapped[int] = mapped_column(Integer, default=0)
    paid_online: Mapped[int] = mapped_column(Integer, default=0)
    digitised: Mapped[int] = mapped_column(Integer, default=0)
    ratings: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)
    rating_1: Mapped[int] = mapped_column(Integer, default=0)
    rating_2: Mapped[int] = mapped_column(Integer, default=0)
    rating_3: Mapped[int] = mapped_column(Integer, default=0)
    rating_4: Mapped[int] = mapped_column(Integer, default=0)
    rating_5: Mapped[int] = mapped_column(Integer, default=0)
    feedback: Mapped[int] = mapped_column(Integer, default=0)
    feedback_on_time: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ReportingBacklog(TenantBase):
    """Dossiers in process now, and those already overdue, per procedure, channel and receiving
    unit."""

    __tablename__ = "reporting_backlog"

    procedure_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    channel: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    unit_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    in_process: Mapped[int] = mapped_column(Integer)
    overdue: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ReportingState(TenantBase):
    """The refresh job's one row: its watermark and the days still to recompute."""

    __tablename__ = "reporting_state"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    watermark: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pending: Mapped[list[date]] = mapped_column(ARRAY(Date), default=list)
    refreshed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PublishedPeriod(TenantBase):
    """The figures of a period as published; a database trigger refuses UPDATE and DELETE."""

    __tablename__ = "reporting_published"

    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    figures: Mapped[dict[str, Any]] = mapped_column(JSONB)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_by: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(200))
