"""Login through a certified, independent OpenID Provider (panva's oidc-provider, on loopback)."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from http.cookies import SimpleCookie

import httpx
import pytest
from sqlalchemy import Engine, text

from motcua.core.audit import Actor
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.identity.schemas import RoleGrantCreate
from motcua.identity.services import grant_role_sync
from tests.identity.conftest import query, use_provider
from tests.identity.node_provider import NodeOidcProvider, complete_interaction, complete_logout

SECRET = "interop-secret-" + uuid.uuid4().hex
PEOPLE = {
    "an": {
        "sub": "sub-an",
        "name": "Nguyễn Văn An",
        "personal_id": "001085012345",
        "birthdate": "1985-03-02",
    },
    "binh": {"sub": "sub-binh", "name": "Trần Thị Bình", "personal_id": "048190054321"},
    "cuong": {"sub": "sub-cuong", "name": "Phạm Quốc Cường", "personal_id": "079201000111"},
    "nopid": {"sub": "sub-nopid", "name": "Không Có Số"},
}


@pytest.fixture(scope="module")
def portals(engine: Engine, live_settings: Settings) -> list[Tenant]:
    from motcua.admin.services import build_spec, onboard_tenant

    suffix = uuid.uuid4().hex[:6]
    return [
        onboard_tenant(
            engine,
            live_settings,
            build_spec(slug=f"io{i}-{suffix}", name=f"Cổng liên thông {i}"),
            actor=Actor.operator("test"),
        )
        for i in range(2)
    ]


@pytest.fixture(scope="module")
def node_provider(
    portals: list[Tenant], engine: Engine, live_settings: Settings
) -> Iterator[NodeOidcProvider]:
    clients = [
        {
            "client_id": "motcua-interop",
            "client_secret": SECRET,
            "redirect_uris": [f"http://{t.slug}.localhost/auth/callback" for t in portals],
            "post_logout_redirect_uris": [f"http://{t.slug}.localhost/" for t in portals],
        }
    ]
    with NodeOidcProvider(clients, PEOPLE) as provider:
        for tenant in portals:
            use_provider(
                engine,
                live_settings,
                tenant,
                issuer=provider.issuer,
                client_id="motcua-interop",
                client_secret=SECRET,
                scopes="openid profile personal_id",
            )
        yield provider


async def login(
    browser: httpx.AsyncClient, tenant: Tenant, person: str, *, next_path: str | None = None
) -> httpx.Response:
    params = {"next": next_path} if next_path else {}
    start = await browser.get(f"http://{tenant.slug}.localhost/login", params=params)
    assert start.status_code == 302, start.text
    callback = complete_interaction(start.headers["location"], person)
    return await browser.get(callback)


def _set_cookie(response: httpx.Response, name: str) -> SimpleCookie:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(name + "="):
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            return jar
    raise AssertionError(f"no {name} cookie set")


async def test_full_login_with_pkce_userinfo_and_logout(
    node_provider: NodeOidcProvider, portals: list[Tenant], browser: httpx.AsyncClient, engine: Engine
) -> None:
    tenant = portals[0]
    start = await browser.get(f"http://{tenant.slug}.localhost/login")
    params = query(start.headers["location"])
    assert start.headers["location"].startswith(node_provider.issuer + "/")
    assert params["code_challenge_method"] == "S256"
    assert params["redirect_uri"] == f"http://{tenant.slug}.localhost/auth/callback"
    assert {"state", "nonce", "code_challenge"} <= params.keys()
    assert "code_verifier" not in params

    done = await browser.get(complete_interaction(start.headers["location"], "an"))
    assert done.status_code == 303
    assert done.headers["location"] == "/"
    morsel = _set_cookie(done, "motcua_session")["motcua_session"]
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "lax"
    assert morsel["domain"] == ""  # host-only
    assert morsel["path"] == "/"

    account = await browser.get(f"http://{tenant.slug}.localhost/account")
    assert account.status_code == 200
    assert "Nguyễn Văn An" in account.text  # the name came from userinfo (claims not in the ID token)
    assert "001******345" in account.text
    with engine.connect() as conn:
        row = conn.execute(
            text(
                f"SELECT personal_id, full_name, birthdate FROM {tenant.schema}.citizens "
                "WHERE personal_id = '001085012345'"
            )
        ).one()
    assert tuple(row) == ("001085012345", "Nguyễn Văn An", "1985-03-02")

    home = await browser.get(f"http://{tenant.slug}.localhost/")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', home.text)
    assert token is not None
    out = await browser.post(f"http://{tenant.slug}.localhost/logout", data={"_csrf_token": token.group(1)})
    assert out.status_code == 303
    end_session = out.headers["location"]
    assert end_session.startswith(node_provider.metadata()["end_session_endpoint"])
    assert "id_token_hint" in query(end_session)
    assert complete_logout(end_session).startswith(f"http://{tenant.slug}.localhost/")
    after = await browser.get(f"http://{tenant.slug}.localhost/account")
    assert after.status_code == 303
    assert after.headers["location"] == "/login?next=/account"


async def test_login_goes_back_to_a_local_next_path_only(
    node_provider: NodeOidcProvider, portals: list[Tenant], browser: httpx.AsyncClient
) -> None:
    done = await login(browser, portals[0], "an", next_path="/procedures/1.001193?x=1")
    assert done.headers["location"] == "/procedures/1.001193?x=1"
    for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        done = await login(browser, portals[0], "an", next_path=evil)
        assert done.headers["location"] == "/", evil


async def test_session_id_changes_at_login(
    node_provider: NodeOidcProvider, portals: list[Tenant], browser: httpx.AsyncClient
) -> None:
    host = f"{portals[0].slug}.localhost"
    first = _set_cookie(await login(browser, portals[0], "an"), "motcua_session")["motcua_session"].value
    # An attacker-planted id is simply replaced, and the previous session id dies at the next login.
    browser.cookies.set("motcua_session", first, domain=host)
    second = _set_cookie(await login(browser, portals[0], "an"), "motcua_session")["motcua_session"].value
    assert second != first
    async with httpx.AsyncClient(transport=browser._transport, follow_redirects=False) as other:
        stale = await other.get(f"http://{host}/account", cookies={"motcua_session": first})
        assert stale.status_code == 303
        fresh = await other.get(f"http://{host}/account", cookies={"motcua_session": second})
        assert fresh.status_code == 200


async def test_a_session_is_worthless_on_another_tenant(
    node_provider: NodeOidcProvider, portals: list[Tenant], browser: httpx.AsyncClient
) -> None:
    a, b = portals
    sid = _set_cookie(await login(browser, a, "an"), "motcua_session")["motcua_session"].value
    stolen = await browser.get(f"http://{b.slug}.localhost/account", cookies={"motcua_session": sid})
    assert stolen.status_code == 303  # sent to log in on b
    page = await browser.get(f"http://{b.slug}.localhost/", cookies={"motcua_session": sid})
    assert "Nguyễn Văn An" not in page.text
    assert "Đăng nhập" in page.text


async def test_cancel_at_the_provider_shows_a_way_forward(
    node_provider: NodeOidcProvider, portals: list[Tenant], browser: httpx.AsyncClient
) -> None:
    start = await browser.get(f"http://{portals[0].slug}.localhost/login")
    callback = complete_interaction(start.headers["location"], "an", cancel=True)
    assert query(callback)["error"] == "access_denied"
    page = await browser.get(callback)
    assert "Bạn đã hủy đăng nhập" in page.text
    assert 'href="/login"' in page.text
    assert "motcua_session" not in page.headers.get("set-cookie", "")


async def test_missing_personal_id_claim_is_refused_with_an_explanation(
    node_provider: NodeOidcProvider, portals: list[Tenant], browser: httpx.AsyncClient
) -> None:
    page = await login(browser, portals[0], "nopid")
    assert page.status_code == 403
    assert 'data-login-error="personal_id"' in page.text
    assert "số định danh cá nhân" in page.text
    assert "motcua_session" not in page.headers.get("set-cookie", "")


async def test_replayed_callback_is_refused(
    node_provider: NodeOidcProvider, portals: list[Tenant], browser: httpx.AsyncClient
) -> None:
    start = await browser.get(f"http://{portals[0].slug}.localhost/login")
    callback = complete_interaction(start.headers["location"], "an")
    assert (await browser.get(callback)).status_code == 303
    again = await browser.get(callback)
    assert again.status_code == 400
    assert 'data-login-error="state"' in again.text


async def test_roles_granted_by_personal_id_before_first_login(
    node_provider: NodeOidcProvider,
    portals: list[Tenant],
    browser: httpx.AsyncClient,
    engine: Engine,
) -> None:
    a, b = portals
    grant_role_sync(
        engine, a, RoleGrantCreate.parse("001085012345", "tenant_admin"), actor=Actor.operator("test")
    )
    # An (tenant admin of a) grants the officer role to Bình, who has never logged in.
    await login(browser, a, "an")
    form = await browser.get(f"http://{a.slug}.localhost/manage/roles")
    assert form.status_code == 200
    token = re.search(r'name="_csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    bad = await browser.post(
        f"http://{a.slug}.localhost/manage/roles",
        data={"_csrf_token": token.group(1), "personal_id": "4819005432", "role": "officer"},
    )
    assert bad.status_code == 400
    assert "12 chữ số" in bad.text
    assert 'value="4819005432"' in bad.text  # the input is kept
    granted = await browser.post(
        f"http://{a.slug}.localhost/manage/roles",
        data={"_csrf_token": token.group(1), "personal_id": "048190054321", "role": "officer"},
    )
    assert granted.status_code == 303

    async with httpx.AsyncClient(transport=browser._transport, follow_redirects=False) as binh:
        await login(binh, a, "binh")
        assert (await binh.get(f"http://{a.slug}.localhost/officer")).status_code == 200
        assert (await binh.get(f"http://{a.slug}.localhost/manage/roles")).status_code == 403
        # The same person on another tenant is only a citizen there.
        await login(binh, b, "binh")
        assert (await binh.get(f"http://{b.slug}.localhost/officer")).status_code == 403

    async with httpx.AsyncClient(transport=browser._transport, follow_redirects=False) as cuong:
        await login(cuong, a, "cuong")
        officer = await cuong.get(f"http://{a.slug}.localhost/officer")
        assert officer.status_code == 403
        assert "không có quyền" in officer.text
        assert (await cuong.get(f"http://{a.slug}.localhost/manage/roles")).status_code == 403


async def test_unsafe_requests_without_csrf_token_are_refused(
    node_provider: NodeOidcProvider, portals: list[Tenant], browser: httpx.AsyncClient, engine: Engine
) -> None:
    a = portals[0]
    grant_role_sync(
        engine, a, RoleGrantCreate.parse("001085012345", "tenant_admin"), actor=Actor.operator("test")
    )
    await login(browser, a, "an")
    refused = await browser.post(
        f"http://{a.slug}.localhost/manage/roles", data={"personal_id": "079201000111", "role": "officer"}
    )
    assert refused.status_code == 403
    assert "Biểu mẫu đã hết hạn" in refused.text
    htmx_style = await browser.post(
        f"http://{a.slug}.localhost/manage/roles",
        data={"personal_id": "079201000111", "role": "officer"},
        headers={"x-csrf-token": "forged"},
    )
    assert htmx_style.status_code == 403
    assert (await browser.post(f"http://{a.slug}.localhost/logout")).status_code == 403
    assert (await browser.get(f"http://{a.slug}.localhost/account")).status_code == 200  # still signed in
    with engine.connect() as conn:
        granted = conn.execute(
            text(f"SELECT count(*) FROM {a.schema}.role_grants WHERE personal_id = '079201000111'")
        ).scalar()
    assert granted == 0


async def test_no_secret_reaches_logs_or_pages(
    node_provider: NodeOidcProvider,
    portals: list[Tenant],
    browser: httpx.AsyncClient,
    live_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    pages = []
    done = await login(browser, portals[0], "an")
    session_id = _set_cookie(done, "motcua_session")["motcua_session"].value
    pages.append((await browser.get(f"http://{portals[0].slug}.localhost/account")).text)
    pages.append((await login(browser, portals[0], "nopid")).text)
    pages.append((await browser.get(f"http://{portals[0].slug}.localhost/auth/callback?code=x&state=y")).text)
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert "login failed" in logged  # the failures were logged...
    for secret in (SECRET, live_settings.secret_key, session_id):
        assert secret not in logged  # ...without any secret
        for html in pages:
            assert secret not in html
