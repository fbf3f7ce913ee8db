"""Published periods: a finished period's figures frozen as they were announced (a trigger
refuses any change), and the reader pages call — the frozen figures of a published period,
live (provisional) ones otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.audit import Actor, tenant_entry
from motcua.core.messages import Message, MessageError
from motcua.core.tenant import Tenant
from motcua.reporting.indicators import compute_indicators
from motcua.reporting.models import PublishedPeriod
from motcua.reporting.periods import VIETNAM, Period
from motcua.reporting.rollups import lock, recompute_days

PUBLISHED = "reporting.period_published"


class PublishError(MessageError):
    """A publication the rules refuse; the message is for the person who asked (a ``Message``,
    shown in their language)."""


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    period: Period
    provisional: bool  # live figures that may still change; False: published and frozen
    figures: dict[str, Any]  # the shape of indicators.compute_indicators
    published_at: datetime | None = None
    published_by: str | None = None


async def publish_period(
    session: AsyncSession,
    tenant: Tenant,
    period: Period,
    *,
    actor: Actor,
    name: str,
    now: datetime | None = None,
) -> PublishedPeriod:
    """Freeze a finished period's figures under the name of who published them, audited in the
    same transaction. The period's days are recomputed first, so what is frozen is what the
    dossiers say at this moment, not the last run of the job."""
    now = now or datetime.now(VIETNAM)
    if not period.is_finished(now):
        raise PublishError(
            Message("%(period)s chưa kết thúc; chỉ công bố được số liệu của kỳ đã qua.", period=period.label)
        )
    existing = await session.get(PublishedPeriod, period.key)
    if existing is not None:
        raise PublishError(_already(existing, period))
    await lock(session)
    await recompute_days(session, period.days())
    figures = await compute_indicators(session, period, now=now)
    published_id = await session.scalar(
        pg_insert(PublishedPeriod)
        .values(
            period=period.key,
            figures=figures,
            published_at=now,
            published_by=name.strip()[:200] or str(actor),
            actor=str(actor),
        )
        .on_conflict_do_nothing(index_elements=[PublishedPeriod.period])
        .returning(PublishedPeriod.period)
    )
    row = await session.get(PublishedPeriod, period.key, populate_existing=True)
    assert row is not None
    if published_id is None:  # someone published it in the meantime
        raise PublishError(_already(row, period))
    await session.execute(tenant_entry(PUBLISHED, actor=actor, period=period.key, name=row.published_by))
    return row


def _already(row: PublishedPeriod, period: Period) -> Message:
    at = row.published_at.astimezone(VIETNAM)
    return Message(
        "%(period)s đã được công bố lúc %(at)s bởi %(name)s; số liệu đã công bố không thay đổi được.",
        period=period.label,
        at=f"{at:%H:%M %d/%m/%Y}",
        name=row.published_by,
    )


async def period_figures(
    session: AsyncSession, period: Period, *, now: datetime | None = None
) -> PeriodFigures:
    """What pages, open data and the API show for a period: the snapshot once it is published,
    else the live figures from the rollups, marked provisional."""
    row = await session.get(PublishedPeriod, period.key)
    if row is not None:
        return PeriodFigures(period, False, row.figures, row.published_at, row.published_by)
    return PeriodFigures(period, True, await compute_indicators(session, period, now=now))


@dataclass(frozen=True, slots=True)
class Publication:
    period: Period
    published_at: datetime
    published_by: str


async def publications(session: AsyncSession) -> list[Publication]:
    """Every published period, latest first (the public page's list)."""
    rows = await session.execute(
        select(PublishedPeriod.period, PublishedPeriod.published_at, PublishedPeriod.published_by).order_by(
            PublishedPeriod.published_at.desc()
        )
    )
    return [Publication(Period.parse(p), at, by) for p, at, by in rows]
