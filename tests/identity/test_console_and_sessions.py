from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import httpx
import redis.asyncio as aioredis
from sqlalchemy import Engine, text

from motcua.core.audit import Actor
from motcua.core.settings import Settings
from motcua.identity.services import add_platform_admin
from motcua.identity.sessions import TOUCH_EVERY_SECONDS, SessionStore, UserSession
from tests.conftest import MakeTenant, asgi_transport
from tests.identity.rogue_provider import CLIENT_ID, CLIENT_SECRET, PERSON, RogueProvider


async def _console_login(browser: httpx.AsyncClient) -> httpx.Response:
    start = await browser.get("http://admin.localhost/login")
    assert start.status_code == 302, start.text
    callback = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
    assert callback.startswith("http://admin.localhost/auth/callback?")
    return await browser.get(callback)


async def test_console_is_for_platform_administrators_only(
    rogue: RogueProvider, live_settings: Settings, engine: Engine, make_tenant: MakeTenant
) -> None:
    from motcua.app import create_app

    tenant = make_tenant(name="Tỉnh Trên Bảng Điều Khiển")
    settings = replace(
        live_settings, oidc_issuer=rogue.issuer, oidc_client_id=CLIENT_ID, oidc_client_secret=CLIENT_SECRET
    )
    app = create_app(settings)
    async with httpx.AsyncClient(transport=asgi_transport(app), follow_redirects=False) as browser:
        anonymous = await browser.get("http://admin.localhost/")
        assert anonymous.status_code == 200
        assert tenant.name not in anonymous.text
        assert 'href="/login"' in anonymous.text

        assert (await _console_login(browser)).status_code == 303
        refused = await browser.get("http://admin.localhost/")
        assert refused.status_code == 403  # signed in, but not a platform administrator
        assert tenant.name not in refused.text

        add_platform_admin(engine, PERSON["personal_id"], actor=Actor.operator("test"))
        async with httpx.AsyncClient(transport=browser._transport, follow_redirects=False) as admin:
            await _console_login(admin)
            # The home lists tenants a page at a time: the test's tenant is found by its slug.
            console = await admin.get("http://admin.localhost/", params={"q": tenant.slug})
            assert console.status_code == 200
            assert tenant.name in console.text
            # The console session is not a session on any tenant.
            sid = admin.cookies.get("motcua_session", domain="admin.localhost")
            assert sid
            there = await admin.get(
                f"http://{tenant.slug}.localhost/account", cookies={"motcua_session": sid}
            )
            assert there.status_code == 303


async def test_sessions_end_after_the_idle_and_the_absolute_timeout(live_settings: Settings) -> None:
    redis = aioredis.Redis.from_url(live_settings.redis_url or "")
    try:
        idle = SessionStore(redis, idle_seconds=1, absolute_seconds=3600)
        sid = await idle.create(
            UserSession(site="x", issuer="i", subject="s", personal_id="001085012345", name="A")
        )
        assert await idle.load(sid, "x") is not None
        await asyncio.sleep(2.2)
        assert await idle.load(sid, "x") is None

        absolute = SessionStore(redis, idle_seconds=3600, absolute_seconds=2)
        sid = await absolute.create(
            UserSession(site="x", issuer="i", subject="s", personal_id="001085012345", name="A")
        )
        for _ in range(3):  # activity does not extend past the absolute lifetime
            await asyncio.sleep(0.8)
            await absolute.load(sid, "x")
        await asyncio.sleep(0.5)
        assert await absolute.load(sid, "x") is None
        assert await absolute.load("", "x") is None
        assert await absolute.load("x" * 500, "x") is None
    finally:
        await redis.aclose()


async def test_a_signed_in_request_pushes_the_idle_timeout_back_at_most_every_half_minute(
    live_settings: Settings,
) -> None:
    redis = aioredis.Redis.from_url(live_settings.redis_url or "")
    try:
        store = SessionStore(redis, idle_seconds=600, absolute_seconds=3600)
        sid = await store.create(
            UserSession(site="x", issuer="i", subject="s", personal_id="001085012345", name="A")
        )
        key = store._key(sid)
        await redis.expire(key, 500)  # as if the session had been idle for 100 s
        stored = await redis.get(key)
        assert await store.load(sid, "x") is not None
        # Seen moments ago: the session is read, not written back (one Redis round trip).
        assert await redis.get(key) == stored and await redis.ttl(key) <= 500
        assert stored is not None
        data = json.loads(stored)
        data["last_seen"] -= TOUCH_EVERY_SECONDS + 1
        await redis.set(key, json.dumps(data), ex=500)
        assert await store.load(sid, "x") is not None
        # Seen longer ago: its idle timeout starts again.
        assert json.loads(await redis.get(key) or "{}")["last_seen"] > data["last_seen"] + TOUCH_EVERY_SECONDS
        assert await redis.ttl(key) > 590
    finally:
        await redis.aclose()


def test_tenant_client_secrets_are_encrypted_at_rest(
    make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    from motcua.identity.services import set_identity_setting

    tenant = make_tenant()
    set_identity_setting(
        engine,
        live_settings,
        tenant,
        issuer="https://eid.example.vn",
        client_id="hanoi-portal",
        client_secret="very-secret-value-1234",
        scopes="openid personal_id",
        personal_id_claim="personal_id",
        display_name="VNeID",
        actor=Actor.operator("test"),
    )
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT client_secret_sealed FROM platform.identity_settings WHERE tenant_id = :t"),
            {"t": tenant.id},
        ).scalar_one()
        audit = conn.execute(
            text(
                "SELECT detail::text FROM platform.audit_log "
                "WHERE action = 'identity.configured' AND tenant_slug = :s"
            ),
            {"s": tenant.slug},
        ).scalar_one()
    assert "very-secret-value-1234" not in stored
    assert "very-secret-value-1234" not in audit
