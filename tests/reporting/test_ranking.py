"""The cross-tenant ranking from ``platform.tenant_indicators``: tenants with known dossiers (built
with the real actions, rolled up by the real job, which also records their figures), ranked by
the Decision 766 index to the exact points, ties sharing a place, tenants without data last,
sorting, the rows kept idempotently, and a tenant's monthly series scored as the indicators are.

Tests share one database: other modules' tenants may be in the ranking too, so places are
checked by their rule (1 + how many scored more) and relative to each other."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.models import Channel
from motcua.reporting.indicators import compute_indicators
from motcua.reporting.jobs import refresh
from motcua.reporting.periods import VIETNAM, Period, last_months
from motcua.reporting.ranking import (
    KEY_RATES,
    live_ranking,
    monthly_series,
    record_indicators,
    recorded_periods,
    sort_rows,
)
from tests.conftest import procedure
from tests.reporting.test_indicators import Desk

ONLINE = procedure(
    "2.000001",
    "Cấp bản sao trích lục hộ tịch",
    documents=[{"code": "don", "name": "Đơn đề nghị", "kind": "original", "copies": 1, "required": False}],
)


@dataclass
class Ranked:
    """Five tenants and what each received last month (all online unless said):
    top — 2 online, digitised: 9 + 9 + 12 + 22 = 52 points;
    tie_a — 2 online and 2 at the desk (50% online, the target): 9 + 9 + 12 = 30;
    tie_b — 2 online: 30;
    low — 1 online and 2 at the desk (33.33% ÷ 50% × 12 = 8): 9 + 9 + 8 = 26;
    empty — nothing: no data."""

    db: Database
    period: Period
    top: Tenant
    tie_a: Tenant
    tie_b: Tenant
    low: Tenant
    empty: Tenant

    @property
    def all(self) -> list[Tenant]:
        return [self.top, self.tie_a, self.tie_b, self.low, self.empty]


async def build_ranked(engine: Engine, settings: Settings, label: str) -> Ranked:
    """The five tenants, their dossiers and one refresh each (shared with the console's tests)."""
    from motcua.admin.services import build_spec, onboard_tenant

    def onboard(name: str, kind: str) -> Tenant:
        slug = f"xh{uuid.uuid4().hex[:8]}"
        spec = build_spec(
            slug=slug, name=f"{name} {label}", kind=kind, domains=[], theme="default", procedures=[ONLINE]
        )
        return onboard_tenant(engine, settings, spec, actor=Actor.operator("test"))

    db = Database(settings.database_url or "", pool_size=2)
    period = Period.current_month(datetime.now(VIETNAM)).previous()
    at = period.start + timedelta(days=2, hours=9)
    ranked = Ranked(
        db,
        period,
        top=onboard("Tỉnh Đứng Đầu", "province"),
        tie_a=onboard("Bộ Đồng Hạng", "ministry"),
        tie_b=onboard("Tỉnh Đồng Hạng", "province"),
        low=onboard("Tỉnh Xếp Sau", "province"),
        empty=onboard("Bộ Chưa Có Hồ Sơ", "ministry"),
    )
    plan = {
        ranked.top: [(Channel.ONLINE, True), (Channel.ONLINE, True)],
        ranked.tie_a: [(Channel.ONLINE, False)] * 2 + [(Channel.IN_PERSON, False)] * 2,
        ranked.tie_b: [(Channel.ONLINE, False)] * 2,
        ranked.low: [(Channel.ONLINE, False)] + [(Channel.IN_PERSON, False)] * 2,
    }
    for tenant, dossiers in plan.items():
        desk = Desk(db, tenant)
        for n, (channel, scanned) in enumerate(dossiers):
            await desk.receive("2.000001", channel, at + timedelta(minutes=n), scanned=scanned)
    for tenant in ranked.all:
        await refresh(tenant.slug, db=db)
    return ranked


@pytest.fixture(scope="module")
async def ranked(engine: Engine, live_settings: Settings) -> AsyncIterator[Ranked]:
    built = await build_ranked(engine, live_settings, "(báo cáo)")
    yield built
    await built.db.dispose()


async def test_tenants_are_ranked_by_the_index_with_ties_and_no_data_last(ranked: Ranked) -> None:
    async with ranked.db.engine.connect() as conn:
        rows = await live_ranking(conn, ranked.period)
    mine = {r.tenant: r for r in rows if r.tenant in {t.slug for t in ranked.all}}
    top, tie_a, tie_b, low, empty = (mine[t.slug] for t in ranked.all)
    assert (top.index_total, tie_a.index_total, tie_b.index_total, low.index_total) == (
        52.0,
        30.0,
        30.0,
        26.0,
    )
    assert top.groups == {
        "transparency": 18.0,
        "progress": 0.0,
        "online_services": 12.0,
        "online_payment": 0.0,
        "digitisation": 22.0,
        "satisfaction": 0.0,
    }
    assert low.groups["online_services"] == 8.0
    assert (top.received, tie_a.received, tie_b.received, low.received) == (2, 4, 2, 3)
    assert tie_a.rates["online_dossier_rate"] == 0.5 and top.rates["digitisation_rate"] == 1.0
    assert set(top.rates) == set(KEY_RATES) and top.provisional is True
    assert (top.name, tie_a.kind) == (ranked.top.name, "ministry")

    # Places: 1 + how many scored more (ties share one, the next skips); no data: no place, last.
    scored = [r for r in rows if r.has_data]
    for r in scored:
        assert r.place == 1 + sum(1 for other in scored if (other.index_total or 0) > (r.index_total or 0))
    assert top.place is not None and tie_a.place == tie_b.place
    assert top.place < (tie_a.place or 0) < (low.place or 0)
    assert (empty.place, empty.index_total, empty.received) == (None, None, 0)
    assert rows.index(empty) > max(rows.index(r) for r in scored)
    assert [r.has_data for r in rows] == sorted((r.has_data for r in rows), reverse=True)

    # Ranked among their own kind only.
    async with ranked.db.engine.connect() as conn:
        ministries = await live_ranking(conn, ranked.period, kind="ministry")
    assert {r.kind for r in ministries} == {"ministry"}
    assert ranked.tie_a.slug in {r.tenant for r in ministries} and ranked.top.slug not in {
        r.tenant for r in ministries
    }

    # Sorting: by dossiers received (most first, equal ones by name), by name, by a group; no
    # data last every time.
    subset = [top, tie_a, tie_b, low, empty]
    assert [r.tenant for r in sort_rows(subset, "ho-so", True)] == [
        t.slug for t in (ranked.tie_a, ranked.low, ranked.tie_b, ranked.top, ranked.empty)
    ]
    assert sort_rows(subset, "diem", False)[0] == low and sort_rows(subset, "diem", False)[-1] == empty
    by_name = [r.name for r in sort_rows(subset, "ten", False)]
    assert by_name[-1] == empty.name  # "Bộ Chưa Có…" would come first, but it has no data
    assert by_name[0] == tie_a.name  # "Bộ…" before "Tỉnh…": Đ/đ sorted with d, marks ignored
    assert sort_rows(subset, "digitisation", True)[0].tenant == ranked.top.slug


async def test_recording_is_idempotent_and_only_redoes_what_changed(ranked: Ranked, engine: Engine) -> None:
    def kept() -> list[tuple[str, float]]:
        with engine.connect() as conn:
            return [
                (r.period, float(r.index_total))
                for r in conn.execute(
                    text(
                        "SELECT period, index_total FROM platform.tenant_indicators"
                        " WHERE tenant_id = :id ORDER BY period"
                    ),
                    {"id": ranked.top.id},
                )
            ]

    before = kept()
    assert sorted(p for p, _ in before) == sorted(p.key for p in recorded_periods())
    # Nothing touched, rows fresh: nothing to redo; a touched day redoes the periods it is in.
    assert await record_indicators(ranked.db, ranked.top) == []
    day = ranked.period.first_day + timedelta(days=2)
    redone = await record_indicators(ranked.db, ranked.top, touched=[day])
    assert ranked.period.key in redone and str(ranked.period.year) in redone
    await refresh(ranked.top.slug, db=ranked.db)
    assert kept() == before


async def test_the_monthly_series_scores_each_month_as_the_indicators_do(ranked: Ranked) -> None:
    months = last_months(12, until=ranked.period)
    async with ranked.db.tenant_session(ranked.low, read_only=True) as session:
        series = await monthly_series(session, months)
        exact = await compute_indicators(session, ranked.period)
    assert [m.period for m in series] == months
    last = series[-1]
    assert last.index_total == exact["index"]["total"] == 26.0
    assert last.groups == {g["key"]: g["points"] for g in exact["index"]["groups"]}
    assert last.rates == {k: exact["total"]["rates"][k]["ratio"] for k in KEY_RATES}
    assert last.received == 3 and not last.published
    assert all(m.index_total is None and m.received == 0 for m in series[:-1])  # no dossiers: no data
