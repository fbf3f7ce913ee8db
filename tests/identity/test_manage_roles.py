"""/manage/roles: granting, revoking after a confirmation, no self-lockout, never the last
administrator, and people named in words."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis
from litestar import Litestar
from sqlalchemy import Engine, text

from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.identity.schemas import RoleGrantCreate, mask_personal_id
from motcua.identity.services import LAST_TENANT_ADMIN, RoleChangeRefusedError, grant_role_sync, revoke_role
from motcua.identity.sessions import SESSION_COOKIE, SessionStore
from tests.admin import conftest as admin_fixtures
from tests.admin.conftest import CONSOLE, Browser, csrf_of, new_personal_id
from tests.admin.test_admins import refused, token_on
from tests.conftest import MakeTenant, asgi_transport

# Browsers signed in to a tenant's portal or the console (tests/admin/conftest.py).
signed_in = admin_fixtures.signed_in

SELF_REVOKE = "Bạn không thể tự thu hồi quyền quản trị địa phương của chính mình."


def _grants(engine: Engine, tenant: Tenant) -> set[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT personal_id, role FROM {tenant.schema}.role_grants"))
        return {(r.personal_id, r.role) for r in rows}


def _site(tenant: Tenant) -> str:
    return f"http://{tenant.slug}.localhost"


async def test_grant_then_revoke_after_a_confirmation_with_names_and_words(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(name="Tỉnh Phân Quyền")
    me = new_personal_id()
    admin = await signed_in(tenant, role="tenant_admin", personal_id=me, name="Nguyễn Thị An")
    officer_id = new_personal_id()
    token = await csrf_of(admin, "/manage/roles")
    granted = await admin.post(
        "/manage/roles",
        data={"_csrf_token": token, "action": "grant", "personal_id": officer_id, "role": "officer"},
    )
    assert granted.status_code == 303
    assert (officer_id, "officer") in _grants(engine, tenant)
    page = await admin.get(granted.headers["location"])
    assert "Đã cấp quyền Cán bộ." in page.text
    assert 'class="notice notice-success"' in page.text
    # Granted by, in words: role, name and a masked personal ID; times in Vietnam time.
    assert f"Quản trị địa phương Nguyễn Thị An ({mask_personal_id(me)})" in page.text
    assert mask_personal_id(officer_id) in page.text and "(chưa đăng nhập lần nào)" in page.text
    assert "tenant_admin:" not in page.text and "operator:" not in page.text
    assert "Người vận hành" in page.text  # the test fixture granted "me" as an operator would

    # Revoking asks first, and changes nothing until confirmed.
    ask = await admin.post(
        "/manage/roles",
        data={"_csrf_token": token, "action": "revoke", "personal_id": officer_id, "role": "officer"},
    )
    assert ask.status_code == 200
    assert "Thu hồi quyền?" in ask.text and 'name="confirm" value="yes"' in ask.text
    assert (officer_id, "officer") in _grants(engine, tenant)
    done = await admin.post(
        "/manage/roles",
        data={
            "_csrf_token": token,
            "action": "revoke",
            "confirm": "yes",
            "personal_id": officer_id,
            "role": "officer",
        },
    )
    assert done.status_code == 303
    assert (officer_id, "officer") not in _grants(engine, tenant)
    assert "Đã thu hồi quyền Cán bộ." in (await admin.get(done.headers["location"])).text


async def test_names_of_people_who_logged_in_are_shown(signed_in: Browser, make_tenant: MakeTenant) -> None:
    tenant = make_tenant()
    admin = await signed_in(tenant, role="tenant_admin", name="Nguyễn Thị An")
    officer = new_personal_id()
    await signed_in(tenant, role="officer", personal_id=officer, name="Lê Văn Cán")
    page = await admin.get("/manage/roles")
    assert "Lê Văn Cán" in page.text and mask_personal_id(officer) in page.text
    assert "Nguyễn Thị An" in page.text and "(bạn)" in page.text


async def test_an_administrator_cannot_revoke_their_own_administration(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant()
    me = new_personal_id()
    admin = await signed_in(tenant, role="tenant_admin", personal_id=me)
    await signed_in(tenant, role="tenant_admin")  # not the last one: it is the self rule that refuses
    page = await admin.get("/manage/roles")
    assert f'name="personal_id" value="{me}"' not in page.text  # no button for it
    token = await csrf_of(admin, "/manage/roles")
    for extra in ({}, {"confirm": "yes"}):
        response = await admin.post(
            "/manage/roles",
            data={
                "_csrf_token": token,
                "action": "revoke",
                "personal_id": me,
                "role": "tenant_admin",
                **extra,
            },
        )
        assert response.status_code == 409
        assert SELF_REVOKE in response.text and '<a href="#grants">' in response.text
    assert (me, "tenant_admin") in _grants(engine, tenant)
    assert (await admin.get("/manage/roles")).status_code == 200


async def test_the_last_administrator_of_a_tenant_cannot_be_revoked(
    make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    # Only a platform administrator or a stale session could try it: the service refuses anyway.
    tenant = make_tenant()
    assert not [g for g in _grants(engine, tenant) if g[1] == "tenant_admin"]
    last = new_personal_id()
    grant_role_sync(
        engine, tenant, RoleGrantCreate(personal_id=last, role="tenant_admin"), actor=Actor.operator("test")
    )
    db = Database(live_settings.database_url or "", pool_size=1)
    redis_client = aioredis.Redis.from_url(live_settings.redis_url or "")
    store = SessionStore(redis_client, idle_seconds=60, absolute_seconds=600)
    try:
        with pytest.raises(RoleChangeRefusedError) as refused:
            async with db.tenant_session(tenant) as session:
                await revoke_role(
                    session,
                    tenant,
                    RoleGrantCreate(personal_id=last, role="tenant_admin"),
                    actor=Actor.platform_admin(new_personal_id()),
                    sessions=store,
                )
        assert str(refused.value) == LAST_TENANT_ADMIN
    finally:
        await db.dispose()
        await redis_client.aclose()
    assert (last, "tenant_admin") in _grants(engine, tenant)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"personal_id": "12ab", "role": "officer"}, "personal_id"),
        ({"personal_id": "", "role": "officer"}, "personal_id"),
        ({"personal_id": "9" * 300, "role": "officer"}, "personal_id"),
        ({"personal_id": "079100009999", "role": "platform_admin"}, "role"),
        ({"personal_id": "079100009999", "role": ""}, "role"),
        ({"personal_id": "079100009999", "role": "officer", "action": "drop"}, "personal_id"),
    ],
)
async def test_bad_input_is_refused_kept_and_changes_nothing(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine, data: dict[str, str], field: str
) -> None:
    tenant = make_tenant()
    admin = await signed_in(tenant, role="tenant_admin")
    before = _grants(engine, tenant)
    token = await csrf_of(admin, "/manage/roles")
    response = await admin.post("/manage/roles", data={"_csrf_token": token, "action": "grant", **data})
    assert response.status_code == 400
    assert 'class="notice notice-error error-summary"' in response.text
    assert f'<a href="#{field}">' in response.text
    assert 'aria-invalid="true"' in response.text
    assert f'value="{data["personal_id"][:50]}"' in response.text
    assert _grants(engine, tenant) == before


@pytest.fixture
async def anonymous(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=asgi_transport(app)) as client:
        yield client


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_only_the_tenants_administrators_manage_its_roles(
    signed_in: Browser, anonymous: httpx.AsyncClient, make_tenant: MakeTenant, engine: Engine, method: str
) -> None:
    tenant = make_tenant()
    other = make_tenant()
    await signed_in(tenant, role="tenant_admin")
    target = new_personal_id()
    citizen = await signed_in(tenant, role="citizen")
    officer = await signed_in(tenant, role="officer")
    # An administrator of another tenant, their session presented to this tenant's host.
    stranger = await signed_in(other, role="tenant_admin")
    stranger.cookies.set(SESSION_COOKIE, stranger.cookies[SESSION_COOKIE], domain=f"{tenant.slug}.localhost")
    # A platform administrator's console session is not a session of the tenant's portal.
    platform = await signed_in()
    platform.cookies.set(SESSION_COOKIE, platform.cookies[SESSION_COOKIE], domain=f"{tenant.slug}.localhost")
    before = _grants(engine, tenant)

    async def attempt(client: httpx.AsyncClient) -> httpx.Response:
        url = _site(tenant) + "/manage/roles"
        if method == "GET":
            return await client.get(url)
        # With the CSRF token of a form of this site, where the person has one: the guard refuses.
        token = await token_on(client, _site(tenant) + "/")
        return await client.post(
            url, data={"_csrf_token": token, "action": "grant", "personal_id": target, "role": "tenant_admin"}
        )

    assert refused(await attempt(anonymous))
    for browser in (citizen, officer):
        response = await attempt(browser)
        assert response.status_code == 403
    assert refused(await attempt(stranger))
    assert refused(await attempt(platform))
    assert _grants(engine, tenant) == before
    # And the page is not on the console host.
    on_console = await platform.get(CONSOLE + "/manage/roles")
    assert refused(on_console) or on_console.status_code == 404
