"""The first invariant: one tenant's data is never readable from another tenant's host."""

from __future__ import annotations

import asyncio
import random

import httpx
from sqlalchemy import select

from motcua.catalog.models import Procedure
from motcua.core.db import Database
from motcua.core.settings import Settings
from tests.conftest import MakeTenant, asgi_transport, procedure

Client = httpx.AsyncClient


async def test_a_procedure_of_tenant_a_is_invisible_from_tenant_b(
    client: Client, make_tenant: MakeTenant
) -> None:
    a = make_tenant(procedures=[procedure("1.999001", "Thủ tục riêng của A")])
    b = make_tenant(procedures=[procedure("1.999002", "Thủ tục riêng của B")])
    page_a = await client.get("/procedures/1.999001", headers={"host": f"{a.slug}.localhost"})
    assert page_a.status_code == 200 and "Thủ tục riêng của A" in page_a.text
    page_b = await client.get("/procedures/1.999001", headers={"host": f"{b.slug}.localhost"})
    assert page_b.status_code == 404
    assert "Thủ tục riêng của A" not in page_b.text
    home_b = await client.get("/", headers={"host": f"{b.slug}.localhost"})
    assert "Thủ tục riêng của B" in home_b.text
    assert "Thủ tục riêng của A" not in home_b.text


async def test_tenant_sessions_see_only_their_own_schema(
    live_settings: Settings, make_tenant: MakeTenant
) -> None:
    a = make_tenant(procedures=[procedure("1.999003", "Chỉ ở A")])
    b = make_tenant()
    db = Database(live_settings.database_url or "", pool_size=1)
    try:
        async with db.tenant_session(b) as session:
            assert (await session.execute(select(Procedure.name))).all() == []
        async with db.tenant_session(a) as session:
            assert (await session.execute(select(Procedure.name))).scalars().all() == ["Chỉ ở A"]
        # The same pooled connection (pool of one) afterwards carries no tenant's path.
        async with db.engine.connect() as conn:
            path = (await conn.exec_driver_sql("SHOW search_path")).scalar()
        assert path is not None and "t_" not in path
    finally:
        await db.dispose()


async def test_concurrent_requests_to_many_tenants_never_mix_search_paths(
    live_settings: Settings, make_tenant: MakeTenant
) -> None:
    from motcua.app import create_app

    tenants = [
        make_tenant(procedures=[procedure("1.777777", f"Dấu hiệu của cổng số {i}")]) for i in range(20)
    ]
    # A small pool, so connections are reused across tenants constantly.
    settings = Settings(**{**live_settings.__dict__, "db_pool_size": 3})
    requests = [(i, t) for i, t in enumerate(tenants) for _ in range(10)]
    random.Random(42).shuffle(requests)
    transport = asgi_transport(create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost.test") as fresh:

        async def fetch(i: int, host: str) -> tuple[int, int, str]:
            response = await fresh.get("/procedures/1.777777", headers={"host": host})
            return i, response.status_code, response.text

        results = await asyncio.gather(*(fetch(i, f"{t.slug}.localhost") for i, t in requests))
    assert len(results) == 200
    for i, status, body in results:
        assert status == 200
        assert f"Dấu hiệu của cổng số {i}<" in body
        others = [j for j in range(20) if j != i and f"Dấu hiệu của cổng số {j}<" in body]
        assert others == []
