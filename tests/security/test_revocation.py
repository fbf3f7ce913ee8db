"""A revoked power stops working on the very next request: roles removed at /manage/roles, a
suspended tenant, a removed platform administrator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis
from litestar import Litestar
from sqlalchemy import Engine

from motcua.core.audit import Actor
from motcua.core.settings import Settings
from motcua.identity.schemas import RoleGrantCreate
from motcua.identity.services import add_platform_admin, grant_role_sync, remove_platform_admin
from motcua.identity.sessions import SESSION_COOKIE, SessionStore, UserSession
from motcua.tenancy.services import resume_tenant, suspend_tenant
from tests.conftest import MakeTenant, asgi_transport
from tests.dossiers.conftest import SignIn, csrf
from tests.workers import start_worker

OFFICER = "001080000321"
ADMIN = "001080000654"
PLATFORM_ADMIN = "001080000987"


@pytest.fixture
async def store(live_settings: Settings) -> AsyncIterator[SessionStore]:
    client = aioredis.Redis.from_url(live_settings.redis_url or "")
    yield SessionStore(
        client,
        idle_seconds=live_settings.session_idle_seconds,
        absolute_seconds=live_settings.session_absolute_seconds,
    )
    await client.aclose()


async def test_a_revoked_officer_loses_the_back_office_on_the_next_request(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant()
    for pid, role in ((OFFICER, "officer"), (ADMIN, "tenant_admin")):
        grant_role_sync(engine, tenant, RoleGrantCreate.parse(pid, role), actor=Actor.operator("test"))
    officer = await sign_in(tenant, name="Cán bộ", personal_id=OFFICER)
    admin = await sign_in(tenant, name="Quản trị", personal_id=ADMIN)
    assert (await officer.get("/officer")).status_code == 200

    token = await csrf(admin, "/manage/roles")
    revoked = await admin.post(
        "/manage/roles",
        data={
            "_csrf_token": token,
            "action": "revoke",
            "confirm": "yes",  # the confirmation page's answer: revoking asks first
            "personal_id": OFFICER,
            "role": "officer",
        },
    )
    assert revoked.status_code == 303
    # No worker runs here: the web process itself makes the change bite at once.
    assert (await officer.get("/officer")).status_code == 403
    assert (await officer.get("/account")).status_code == 200  # still signed in, as a citizen

    # Granted again, the same session gets the back office back.
    token = await csrf(admin, "/manage/roles")
    await admin.post(
        "/manage/roles",
        data={"_csrf_token": token, "action": "grant", "personal_id": OFFICER, "role": "officer"},
    )
    assert (await officer.get("/officer")).status_code == 200


async def test_a_suspended_tenant_grants_nothing_to_its_open_sessions(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant()
    grant_role_sync(engine, tenant, RoleGrantCreate.parse(OFFICER, "officer"), actor=Actor.operator("test"))
    officer = await sign_in(tenant, name="Cán bộ", personal_id=OFFICER)
    assert (await officer.get("/officer")).status_code == 200
    suspend_tenant(engine, tenant.slug, actor=Actor.operator("test"))
    try:
        assert (await officer.get("/officer")).status_code == 503
    finally:
        resume_tenant(engine, tenant.slug, actor=Actor.operator("test"))


async def test_a_removed_platform_administrator_loses_the_console(
    app: Litestar, store: SessionStore, engine: Engine
) -> None:
    add_platform_admin(engine, PLATFORM_ADMIN, actor=Actor.operator("test"))
    # Another one, so that removing PLATFORM_ADMIN does not leave the platform without any.
    add_platform_admin(engine, "001080000988", actor=Actor.operator("test"))
    version = await store.roles_version("console")
    sid = await store.create(
        UserSession(
            site="console",
            issuer="https://eid.test",
            subject="sub-console",
            personal_id=PLATFORM_ADMIN,
            name="Quản trị nền tảng",
            roles=["platform_admin"],
            roles_version=version,
        )
    )
    async with httpx.AsyncClient(transport=asgi_transport(app), base_url="http://admin.localhost") as console:
        console.cookies.set(SESSION_COOKIE, sid, domain="admin.localhost")
        assert (await console.get("/")).status_code == 200
        # Removed from the command line: the change travels through the outbox to a worker.
        worker = start_worker("sessions")
        try:
            assert remove_platform_admin(engine, PLATFORM_ADMIN, actor=Actor.operator("test"))
            for _ in range(100):
                if await store.roles_version("console") != version:
                    break
                await _sleep(0.1)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        assert (await console.get("/")).status_code == 403


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
