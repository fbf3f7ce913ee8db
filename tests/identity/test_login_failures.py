"""Every way a login can fail ends on a clear page with a way forward, and with no session."""

from __future__ import annotations

import socket
from dataclasses import replace

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import Engine

from motcua.core.audit import Actor
from motcua.core.settings import Settings
from motcua.tenancy.services import resume_tenant, suspend_tenant
from tests.conftest import MakeTenant, asgi_transport
from tests.identity.conftest import use_provider
from tests.identity.rogue_provider import RogueProvider


async def _attempt(browser: httpx.AsyncClient, host: str) -> httpx.Response:
    start = await browser.get(f"http://{host}/login")
    assert start.status_code == 302, start.text
    callback = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
    return await browser.get(callback)


def _assert_failed(response: httpx.Response, code: str) -> None:
    assert f'data-login-error="{code}"' in response.text, response.text[:2000]
    assert 'href="/login"' in response.text  # a way forward
    assert "motcua_session" not in response.headers.get("set-cookie", "")


async def test_a_correct_token_logs_in(
    browser: httpx.AsyncClient,
    rogue: RogueProvider,
    make_tenant: MakeTenant,
    engine: Engine,
    live_settings: Settings,
) -> None:
    tenant = make_tenant()
    use_provider(engine, live_settings, tenant, issuer=rogue.issuer)
    done = await _attempt(browser, f"{tenant.slug}.localhost")
    assert done.status_code == 303
    assert "motcua_session=" in done.headers["set-cookie"]


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("tampered_signature", "token"),
        ("unknown_key", "token"),
        ("expired", "token"),
        ("wrong_nonce", "token"),
        ("wrong_issuer", "token"),
        ("wrong_audience", "audience"),
        ("no_personal_id", "personal_id"),
        ("bad_personal_id", "personal_id"),
    ],
)
async def test_bad_id_tokens_are_refused(
    fault: str,
    code: str,
    browser: httpx.AsyncClient,
    rogue: RogueProvider,
    make_tenant: MakeTenant,
    engine: Engine,
    live_settings: Settings,
) -> None:
    tenant = make_tenant()
    use_provider(engine, live_settings, tenant, issuer=rogue.issuer)
    rogue.fault = fault
    _assert_failed(await _attempt(browser, f"{tenant.slug}.localhost"), code)


async def test_a_rotated_signing_key_is_fetched_once(
    browser: httpx.AsyncClient,
    rogue: RogueProvider,
    make_tenant: MakeTenant,
    engine: Engine,
    live_settings: Settings,
) -> None:
    tenant = make_tenant()
    use_provider(engine, live_settings, tenant, issuer=rogue.issuer)
    assert (await _attempt(browser, f"{tenant.slug}.localhost")).status_code == 303
    fetches = rogue.jwks_fetches
    rogue.fault = "rotated_key"
    done = await _attempt(browser, f"{tenant.slug}.localhost")
    assert done.status_code == 303, done.text[:500]
    assert rogue.jwks_fetches == fetches + 1


async def test_state_mismatch_and_foreign_browser_are_refused(
    browser: httpx.AsyncClient,
    rogue: RogueProvider,
    make_tenant: MakeTenant,
    engine: Engine,
    live_settings: Settings,
) -> None:
    tenant = make_tenant()
    host = f"{tenant.slug}.localhost"
    use_provider(engine, live_settings, tenant, issuer=rogue.issuer)
    start = await browser.get(f"http://{host}/login")
    callback = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
    forged = callback.replace("state=", "state=x")
    _assert_failed(await browser.get(forged), "state")
    # The real callback opened in a browser that did not start this login (login CSRF).
    async with httpx.AsyncClient(transport=browser._transport, follow_redirects=False) as other:
        _assert_failed(await other.get(callback), "state")
    # ...and after that attempt the state is spent, even for the right browser.
    _assert_failed(await browser.get(callback), "state")


async def test_a_state_from_another_tenant_is_refused(
    browser: httpx.AsyncClient,
    rogue: RogueProvider,
    make_tenant: MakeTenant,
    engine: Engine,
    live_settings: Settings,
) -> None:
    a, b = make_tenant(), make_tenant()
    for t in (a, b):
        use_provider(engine, live_settings, t, issuer=rogue.issuer)
    start = await browser.get(f"http://{a.slug}.localhost/login")
    callback = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
    moved = callback.replace(f"{a.slug}.localhost", f"{b.slug}.localhost")
    cookie = browser.cookies.get("motcua_login", domain=f"{a.slug}.localhost")
    response = await browser.get(moved, cookies={"motcua_login": cookie or ""})
    _assert_failed(response, "state")


async def test_unreachable_provider(
    browser: httpx.AsyncClient, make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    tenant = make_tenant()
    use_provider(engine, live_settings, tenant, issuer=f"http://127.0.0.1:{dead_port}")
    page = await browser.get(f"http://{tenant.slug}.localhost/login")
    assert page.status_code == 502
    _assert_failed(page, "unreachable")
    assert "thử lại" in page.text


async def test_slow_provider_times_out(
    rogue: RogueProvider, make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    from motcua.app import create_app

    tenant = make_tenant()
    use_provider(engine, live_settings, tenant, issuer=rogue.issuer)
    rogue.slow_seconds = 2.5
    app: Litestar = create_app(replace(live_settings, oidc_timeout=0.5))
    async with httpx.AsyncClient(transport=asgi_transport(app), follow_redirects=False) as browser:
        page = await browser.get(f"http://{tenant.slug}.localhost/login")
    assert page.status_code == 502
    _assert_failed(page, "unreachable")


async def test_suspended_tenant_cannot_log_in(
    browser: httpx.AsyncClient,
    rogue: RogueProvider,
    make_tenant: MakeTenant,
    engine: Engine,
    live_settings: Settings,
) -> None:
    tenant = make_tenant()
    use_provider(engine, live_settings, tenant, issuer=rogue.issuer)
    start = await browser.get(f"http://{tenant.slug}.localhost/login")
    callback = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
    suspend_tenant(engine, tenant.slug, actor=Actor.operator("test"))
    try:
        for url in (f"http://{tenant.slug}.localhost/login", callback):
            page = await browser.get(url)
            assert page.status_code == 503
            assert "tạm ngừng" in page.text
            assert "motcua_session" not in page.headers.get("set-cookie", "")
    finally:
        resume_tenant(engine, tenant.slug, actor=Actor.operator("test"))
