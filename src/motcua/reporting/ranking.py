"""The ranking of every tenant by the Decision 766 index, for the central console.

Ranking a thousand tenants by reading a thousand schemas on each page view would cost a query
per tenant, so each tenant's reporting job (``jobs.refresh``) also writes its figures for the
current and previous month, quarter and year into ``platform.tenant_indicators``, and the console
ranks from that one table in one query (``ranking``). A finished period's ranking can be
published: frozen in ``platform.published_rankings`` (a trigger refuses UPDATE and DELETE),
listed by the platform's open data, and read by each tenant's public page (``published_place``).

PRODUCT DECISION: a tenant "has data" for a period when it received at least one dossier in it.
Without dossiers the index would rank a catalogue, not a service, so such a tenant is listed
last, unranked ("chưa có số liệu"). Places are shared by ties (1, 2, 2, 4), on the index rounded
to 0.01 as shown."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    Numeric,
    String,
    and_,
    case,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from motcua.core.audit import Actor, platform_entry
from motcua.core.db import Database
from motcua.core.models import PlatformBase
from motcua.core.tenant import Tenant
from motcua.identity.models import N_
from motcua.reporting.decision766 import index_for
from motcua.reporting.indicators import period_totals
from motcua.reporting.models import PublishedPeriod
from motcua.reporting.periods import VIETNAM, Period
from motcua.tenancy.models import TenantRecord, TenantStatus

PUBLISHED = "ranking.published"
# The rates kept beside the index (DOMAIN.md "Indicators"), in the order the console lists them.
KEY_RATES = (
    "full_online_rate",
    "online_dossier_rate",
    "on_time_rate",
    "online_payment_rate",
    "digitisation_rate",
    "satisfied_rate",
)
# A period's row is recomputed when a day in it was recomputed by the run, or when it is older
# than this: what changes no day (the catalogue, a tenant publishing its period, a new version
# of the index data) reaches the ranking within this time.
STALE_AFTER = timedelta(minutes=30)
# Tenants listed even without figures: those whose portal runs. An archived one is listed only
# for the periods it has figures for.
LISTED = (TenantStatus.ACTIVE.value, TenantStatus.SUSPENDED.value)


class TenantIndicators(PlatformBase):
    """One tenant's index and key rates for one period, as its reporting job last computed them
    (the tenant's published figures once it has published the period)."""

    __tablename__ = "tenant_indicators"

    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("platform.tenants.id", ondelete="CASCADE"), primary_key=True
    )
    index_total: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    index_version: Mapped[int] = mapped_column(Integer)
    group_points: Mapped[dict[str, float]] = mapped_column(JSONB)
    received: Mapped[int] = mapped_column(Integer)
    full_online_rate: Mapped[float | None] = mapped_column(Float)
    online_dossier_rate: Mapped[float | None] = mapped_column(Float)
    on_time_rate: Mapped[float | None] = mapped_column(Float)
    online_payment_rate: Mapped[float | None] = mapped_column(Float)
    digitisation_rate: Mapped[float | None] = mapped_column(Float)
    satisfied_rate: Mapped[float | None] = mapped_column(Float)
    provisional: Mapped[bool] = mapped_column(Boolean)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PublishedRanking(PlatformBase):
    """A period's ranking as the platform published it; a trigger refuses UPDATE and DELETE."""

    __tablename__ = "published_rankings"

    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    index_version: Mapped[int] = mapped_column(Integer)
    groups: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    places: Mapped[dict[str, int]] = mapped_column(JSONB)
    ranked: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_by: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(200))


# Recording each tenant's figures (the reporting job) -------------------------------------------
def recorded_periods(now: datetime | None = None) -> list[Period]:
    """The periods each run keeps: the current and previous month, quarter and year."""
    month = Period.current_month(now)
    quarter = Period(month.year, "quarter", (month.number - 1) // 3 + 1)
    year = Period(month.year, "year", 0)
    return [p for current in (month, quarter, year) for p in (current, current.previous())]


async def pending_days(session: AsyncSession) -> list[date]:
    """The days the run is about to recompute (read after ``mark_changes``)."""
    found = await session.execute(text("SELECT pending FROM reporting_state WHERE id = 1"))
    return list(found.scalar_one())


async def record_indicators(
    db: Database, tenant: Tenant, *, touched: Iterable[date] = (), now: datetime | None = None
) -> list[str]:
    """Upsert the tenant's row of each recorded period that a ``touched`` day falls in, that has
    no row yet or whose row is stale; returns the periods written. Idempotent: a row is replaced
    by what the rollups say now, never added to. A period the tenant published gives its frozen
    figures (what the locality announced), any other the live ones, marked provisional."""
    now = now or datetime.now(VIETNAM)
    periods = recorded_periods(now)
    days = set(touched)
    async with db.tenant_session(tenant) as session:
        kept = dict(
            (
                await session.execute(
                    select(TenantIndicators.period, TenantIndicators.computed_at).where(
                        TenantIndicators.tenant_id == tenant.id,
                        TenantIndicators.period.in_([p.key for p in periods]),
                    )
                )
            ).all()
        )
        due = [
            p
            for p in periods
            if p.key not in kept
            or kept[p.key] < now - STALE_AFTER
            or any(p.first_day <= d < p.end_day for d in days)
        ]
        if not due:
            return []
        frozen = await _published_figures(session, due)
        # One scan of the rollups for every due period (grouped by month), not one per period.
        live = await period_totals(session, [p for p in due if p.key not in frozen])
        for period in due:
            figures = frozen.get(period.key) or live[period.key]
            values = _row_values(figures, provisional=period.key not in frozen)
            await session.execute(
                pg_insert(TenantIndicators)
                .values(period=period.key, tenant_id=tenant.id, **values)
                .on_conflict_do_update(
                    index_elements=[TenantIndicators.period, TenantIndicators.tenant_id], set_=values
                )
            )
    return [p.key for p in due]


async def _published_figures(session: AsyncSession, periods: Sequence[Period]) -> dict[str, dict[str, Any]]:
    """The frozen figures of those of ``periods`` the tenant published."""
    rows = await session.execute(
        select(PublishedPeriod.period, PublishedPeriod.figures).where(
            PublishedPeriod.period.in_([p.key for p in periods])
        )
    )
    return {str(period): dict(figures) for period, figures in rows.all()}


def _row_values(figures: dict[str, Any], *, provisional: bool) -> dict[str, Any]:
    index = figures["index"]
    rates = figures["total"]["rates"]
    return {
        "index_total": Decimal(str(index["total"])),
        "index_version": int(index["version"]),
        "group_points": {g["key"]: g["points"] for g in index["groups"]},
        "received": int(figures["total"]["counts"]["received"]),
        **{key: rates[key]["ratio"] for key in KEY_RATES},
        "provisional": provisional,
        "computed_at": func.now(),
    }


# The ranking ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GroupHeading:
    key: str
    name: str
    max: int


@dataclass(frozen=True, slots=True)
class RankingRow:
    tenant: str  # the slug: links and the public page's lookup; never the only label shown
    name: str
    kind: str
    place: int | None  # None: no data for the period, listed last
    index_total: float | None
    groups: dict[str, float] = field(default_factory=dict)
    received: int | None = None
    rates: dict[str, float | None] = field(default_factory=dict)
    provisional: bool | None = None

    @property
    def has_data(self) -> bool:
        return self.place is not None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RankingRow:
        return cls(
            tenant=str(data["tenant"]),
            name=str(data["name"]),
            kind=str(data["kind"]),
            place=data.get("place"),
            index_total=data.get("index_total"),
            groups=dict(data.get("groups") or {}),
            received=data.get("received"),
            rates=dict(data.get("rates") or {}),
            provisional=data.get("provisional"),
        )


@dataclass(frozen=True, slots=True)
class Ranking:
    period: Period
    groups: list[GroupHeading]
    rows: list[RankingRow]  # in place order, tenants without data last
    published: PublishedRanking | None = None

    @property
    def ranked(self) -> int:
        return sum(1 for r in self.rows if r.has_data)


def group_headings(period: Period) -> list[GroupHeading]:
    return [GroupHeading(g.key, g.name, g.max) for g in index_for(period.year).groups]


async def live_ranking(
    conn: AsyncConnection | AsyncSession, period: Period, *, kind: str = ""
) -> list[RankingRow]:
    """Every listed tenant (of ``kind``, if given) with its figures for ``period``, in place
    order: one query over ``platform.tenant_indicators``, whatever the number of tenants."""
    ti = TenantIndicators
    has_data = func.coalesce(ti.received, 0) > 0
    place = case(
        (has_data, func.rank().over(partition_by=has_data, order_by=ti.index_total.desc())),
        else_=None,
    )
    statement = (
        select(
            TenantRecord.slug,
            TenantRecord.name,
            TenantRecord.kind,
            place.label("place"),
            ti.index_total,
            ti.group_points,
            ti.received,
            *(getattr(ti, key) for key in KEY_RATES),
            ti.provisional,
        )
        .select_from(TenantRecord)
        .outerjoin(ti, and_(ti.tenant_id == TenantRecord.id, ti.period == period.key))
        .where(or_(TenantRecord.status.in_(LISTED), ti.tenant_id.is_not(None)))
        .order_by(has_data.desc(), ti.index_total.desc(), TenantRecord.name, TenantRecord.slug)
    )
    if kind:
        statement = statement.where(TenantRecord.kind == kind)
    rows = []
    for r in (await conn.execute(statement)).all():
        data = r.place is not None
        rows.append(
            RankingRow(
                tenant=r.slug,
                name=r.name,
                kind=r.kind,
                place=r.place,
                index_total=float(r.index_total) if data else None,
                groups=dict(r.group_points or {}) if data else {},
                received=r.received,
                rates={key: getattr(r, key) for key in KEY_RATES} if data else {},
                provisional=r.provisional,
            )
        )
    return rows


async def publication(session: AsyncSession, period: Period) -> PublishedRanking | None:
    return await session.get(PublishedRanking, period.key)


async def ranking(session: AsyncSession, period: Period, *, kind: str = "") -> Ranking:
    """What the console shows for a period: the frozen ranking once it is published (a kind
    filter then keeps the published places), the live one otherwise."""
    published = await publication(session, period)
    if published is not None:
        rows = [RankingRow.from_json(r) for r in published.rows]
        groups = [GroupHeading(**g) for g in published.groups]
        return Ranking(period, groups, [r for r in rows if not kind or r.kind == kind], published)
    return Ranking(period, group_headings(period), await live_ranking(session, period, kind=kind))


# Sorting (server-side, ``?sap-xep=``) ------------------------------------------------------------
# Fixed columns; each group's key is a column too. The first direction is the natural one.
FIXED_SORTS = {"hang": "asc", "ten": "asc", "loai": "asc", "diem": "desc", "ho-so": "desc"}
DEFAULT_SORT = "hang"


def sort_keys(groups: Sequence[GroupHeading]) -> dict[str, str]:
    """Every sortable column and its first direction (``asc``/``desc``)."""
    return {**FIXED_SORTS, **{g.key: "desc" for g in groups}}


@functools.lru_cache(maxsize=8192)
def _folded(name: str) -> str:
    """A name as Vietnamese is alphabetised, near enough: letters before their marks, đ with d."""
    text_ = unicodedata.normalize("NFD", name.casefold().replace("đ", "d"))
    return "".join(c for c in text_ if not unicodedata.combining(c))


def _value(row: RankingRow, key: str, kind_words: dict[str, str]) -> Any:
    if key == "hang":
        return row.place
    if key == "ten":
        return _folded(row.name)
    if key == "loai":
        return _folded(kind_words.get(row.kind, row.kind))
    if key == "diem":
        return row.index_total
    if key == "ho-so":
        return row.received if row.has_data else None
    return row.groups.get(key)


def sort_rows(
    rows: Sequence[RankingRow], key: str, descending: bool, *, kind_words: dict[str, str] | None = None
) -> list[RankingRow]:
    """The rows by ``key`` (ties by name), tenants without data last whatever the order."""
    words = kind_words or {}
    by_name = sorted(rows, key=lambda r: (_folded(r.name), r.tenant))
    with_data: list[RankingRow] = []
    without: list[RankingRow] = []
    for row in by_name:
        (with_data if row.has_data and _value(row, key, words) is not None else without).append(row)
    # Python's sort is stable in both directions: equal values keep the order by name.
    with_data.sort(key=lambda r: _value(r, key, words), reverse=descending)
    if key in ("ten", "loai"):
        without.sort(key=lambda r: _value(r, key, words), reverse=descending)
    return with_data + without


# Publication ------------------------------------------------------------------------------------
class RankingPublishError(Exception):
    """A publication the rules refuse; the message is for the person who asked (a msgid)."""


NOT_FINISHED = N_("Kỳ này chưa kết thúc; chỉ công bố được bảng xếp hạng của kỳ đã qua.")
ALREADY_PUBLISHED = N_("Bảng xếp hạng của kỳ này đã được công bố và không thay đổi được.")
NOTHING_RANKED = N_("Chưa có địa phương nào có số liệu của kỳ này để xếp hạng.")


async def publish_ranking(
    session: AsyncSession, period: Period, *, actor: Actor, name: str, now: datetime | None = None
) -> PublishedRanking:
    """Freeze a finished period's ranking as it stands, under the name of who published it,
    audited in the platform trail in the same transaction (a platform session)."""
    now = now or datetime.now(VIETNAM)
    if not period.is_finished(now):
        raise RankingPublishError(NOT_FINISHED)
    # One publisher at a time per period: the second waits, then finds the first's row.
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('platform/ranking/' || :p))"), {"p": period.key}
    )
    if await publication(session, period) is not None:
        raise RankingPublishError(ALREADY_PUBLISHED)
    rows = await live_ranking(session, period)
    ranked = [r for r in rows if r.has_data]
    if not ranked:
        raise RankingPublishError(NOTHING_RANKED)
    published = PublishedRanking(
        period=period.key,
        index_version=index_for(period.year).version,
        groups=[asdict(g) for g in group_headings(period)],
        rows=[r.to_json() for r in rows],
        places={r.tenant: r.place for r in ranked},
        ranked=len(ranked),
        published_at=now,
        published_by=name.strip()[:200] or str(actor),
        actor=str(actor),
    )
    session.add(published)
    await session.flush()
    await session.execute(platform_entry(PUBLISHED, actor=actor, period=period.key, ranked=len(ranked)))
    return published


async def published_place(session: AsyncSession, tenant_slug: str, period_key: str) -> tuple[int, int] | None:
    """The tenant's place in the platform's published ranking of the period, and out of how many
    ranked; None when that ranking is not published or the tenant is not ranked in it. Any
    session will do (tenant sessions reach ``platform`` through their search path)."""
    row = (
        await session.execute(
            select(PublishedRanking.places[tenant_slug].as_integer(), PublishedRanking.ranked).where(
                PublishedRanking.period == period_key[:8]
            )
        )
    ).one_or_none()
    if row is None or row[0] is None:
        return None
    return int(row[0]), int(row[1])


@dataclass(frozen=True, slots=True)
class Place:
    period: Period
    place: int
    ranked: int


async def latest_place(session: AsyncSession, tenant_slug: str) -> Place | None:
    """The tenant's place in the latest ranking the platform published in which it is ranked
    (the public statistics page shows it)."""
    row = (
        await session.execute(
            select(
                PublishedRanking.period,
                PublishedRanking.places[tenant_slug].as_integer(),
                PublishedRanking.ranked,
            )
            .where(PublishedRanking.places.has_key(tenant_slug))
            .order_by(PublishedRanking.period.desc())
            .limit(1)
        )
    ).one_or_none()
    if row is None or row[1] is None:
        return None
    return Place(Period.parse(row[0]), int(row[1]), int(row[2]))


async def published_rankings(session: AsyncSession) -> list[PublishedRanking]:
    """Every published ranking, latest period first (the platform's open data)."""
    found = await session.scalars(select(PublishedRanking).order_by(PublishedRanking.period.desc()))
    return list(found.all())


# One tenant's trend (the console's drill-down) ----------------------------------------------------
@dataclass(frozen=True, slots=True)
class MonthFigures:
    period: Period
    index_total: float | None  # None: no dossier received that month
    groups: dict[str, float]
    rates: dict[str, float | None]
    received: int
    published: bool  # frozen figures of a month the tenant published


async def monthly_series(session: AsyncSession, months: Sequence[Period]) -> list[MonthFigures]:
    """The tenant's index and key rates for each month, from one scan of the rollups
    (``indicators.period_totals``), a month the tenant published giving its frozen figures."""
    frozen = await _published_figures(session, months)
    live = await period_totals(session, [m for m in months if m.key not in frozen])
    series = []
    for month in months:
        figures = frozen.get(month.key) or live[month.key]
        index, total = figures["index"], figures["total"]
        received = int(total["counts"]["received"])
        series.append(
            MonthFigures(
                period=month,
                index_total=index["total"] if received else None,
                groups={g["key"]: g["points"] for g in index["groups"]},
                rates={k: total["rates"][k]["ratio"] for k in KEY_RATES},
                received=received,
                published=month.key in frozen,
            )
        )
    return series
