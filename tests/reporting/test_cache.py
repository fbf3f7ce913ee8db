"""The figures cache: the public API answers what it computed until the rollups move or a
period is published, then the new figures at once; bounded in size."""

from __future__ import annotations

from datetime import datetime

import httpx
from litestar import Litestar

from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.dossiers.models import Channel
from motcua.reporting.cache import FiguresCache
from motcua.reporting.jobs import refresh
from motcua.reporting.periods import VIETNAM, Period
from motcua.reporting.publishing import publish_period
from tests.conftest import MakeTenant, asgi_transport
from tests.reporting.test_indicators import BUSINESS, COPY, Desk


def test_an_entry_lives_while_its_marker_holds_and_the_oldest_go_first() -> None:
    cache = FiguresCache(size=2)
    cache.put("a", (1,), "A")
    assert cache.get("a", (1,)) == "A"
    assert cache.get("a", (2,)) is None  # the rollups moved: computed again
    assert cache.get("a", (1,)) is None  # and the stale entry is gone
    for key in ("a", "b", "c"):
        cache.put(key, (1,), key.upper())
    assert (cache.get("a", (1,)), cache.get("b", (1,)), cache.get("c", (1,))) == (None, "B", "C")


async def test_the_api_shows_new_figures_after_a_refresh_and_frozen_ones_after_publishing(
    make_tenant: MakeTenant, live_settings: Settings, app: Litestar
) -> None:
    tenant = make_tenant(procedures=[COPY, BUSINESS])
    db = Database(live_settings.database_url or "", pool_size=2)
    desk = Desk(db, tenant)
    last = Period.current_month(datetime.now(VIETNAM)).previous()
    try:
        async with httpx.AsyncClient(
            transport=asgi_transport(app), base_url=f"http://{tenant.slug}.localhost"
        ) as http:

            async def received() -> int | None:
                answer = await http.get("/api/v1/statistics", params={"period": last.key})
                assert answer.status_code == 200
                return answer.json()["total"]["counts"]["received"]  # type: ignore[no-any-return]

            for n in range(5):
                await desk.receive("2.000001", Channel.ONLINE, last.start.replace(day=2 + n))
            await refresh(tenant.slug, db=db)
            assert await received() == 5
            await desk.receive("2.000001", Channel.ONLINE, last.start.replace(day=10))
            assert await received() == 5  # the rollups have not moved yet: the same answer
            await refresh(tenant.slug, db=db)
            assert await received() == 6
            async with db.tenant_session(tenant) as session:
                await publish_period(
                    session, tenant, last, actor=Actor.operator("test"), name="Nguyễn Văn Công"
                )
            await desk.receive("2.000001", Channel.ONLINE, last.start.replace(day=11))
            await refresh(tenant.slug, db=db)
            frozen = (await http.get("/api/v1/statistics", params={"period": last.key})).json()
            assert frozen["provisional"] is False and frozen["total"]["counts"]["received"] == 6
    finally:
        await db.dispose()
