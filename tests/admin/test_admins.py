"""Platform administrators from the console: the list, adding by personal ID, removing after a
confirmation; never oneself, never the last one (the command line keeps that rule too)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import Engine, text

from motcua.core.audit import Actor
from motcua.identity.schemas import mask_personal_id
from motcua.identity.services import (
    RoleChangeRefusedError,
    add_platform_admin,
    remove_platform_admin,
)
from motcua.identity.sessions import SESSION_COOKIE
from tests.admin.conftest import CONSOLE, Browser, csrf_of, new_personal_id
from tests.conftest import MakeTenant, asgi_transport


async def token_on(client: httpx.AsyncClient, url: str) -> str:
    """The CSRF token of a form on ``url`` ("" when the page has none: the person is nobody there)."""
    match = re.search(r'name="_csrf_token" value="([^"]+)"', (await client.get(url)).text)
    return match.group(1) if match else ""


def refused(response: httpx.Response) -> bool:
    """Turned away without seeing anything: 401/403, or sent to log in first (anonymous GET)."""
    if response.status_code == 303:
        return response.headers["location"].startswith("/login")
    return response.status_code in (401, 403)


def _masked_only(html: str, personal_id: str) -> bool:
    """The full personal ID appears nowhere but in the forms' hidden values."""
    return personal_id not in re.sub(r'value="\d{12}"', "", html)


def _admins(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT personal_id FROM platform.platform_admins")).scalars())


def _audit(engine: Engine, action: str, personal_id: str) -> list[tuple[str, dict[str, str]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT actor, detail FROM platform.audit_log WHERE action = :a "
                "AND detail->>'personal_id' = :p ORDER BY id"
            ),
            {"a": action, "p": personal_id},
        )
        return [(r.actor, r.detail) for r in rows]


@pytest.fixture
async def anonymous(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=asgi_transport(app), base_url=CONSOLE) as client:
        yield client


async def test_an_administrator_adds_another_by_personal_id(signed_in: Browser, engine: Engine) -> None:
    me = new_personal_id()
    admin = await signed_in(personal_id=me, name="Trần Văn Quản")
    listing = await admin.get("/admins")
    assert listing.status_code == 200
    assert "Trần Văn Quản" in listing.text and mask_personal_id(me) in listing.text
    assert 'aria-current="page"' in listing.text
    assert _masked_only(listing.text, me)

    newcomer = new_personal_id()
    token = await csrf_of(admin, "/admins")
    added = await admin.post("/admins", data={"_csrf_token": token, "personal_id": f" {newcomer} "})
    assert added.status_code == 303 and added.headers["location"] == "/admins?done=added"
    assert newcomer in _admins(engine)
    page = await admin.get(added.headers["location"])
    assert "Đã thêm quản trị viên nền tảng" in page.text
    assert mask_personal_id(newcomer) in page.text
    assert "(chưa đăng nhập lần nào)" in page.text
    # Added by: the administrator in words, never "platform_admin:…".
    assert f"Quản trị nền tảng Trần Văn Quản ({mask_personal_id(me)})" in page.text
    assert "platform_admin:" not in page.text

    [(actor, detail)] = _audit(engine, "platform_admin.added", newcomer)
    assert actor == f"platform_admin:{me}"
    assert detail["address"]

    again = await admin.post("/admins", data={"_csrf_token": token, "personal_id": newcomer})
    assert again.headers["location"] == "/admins?done=already"
    assert len(_audit(engine, "platform_admin.added", newcomer)) == 1


@pytest.mark.parametrize("typed", ["12345", "0791abcd0000", "", "1" * 13, "9" * 400, "<b>079100000001</b>"])
async def test_a_bad_personal_id_is_refused_and_kept(signed_in: Browser, engine: Engine, typed: str) -> None:
    admin = await signed_in()
    before = _admins(engine)
    token = await csrf_of(admin, "/admins")
    response = await admin.post("/admins", data={"_csrf_token": token, "personal_id": typed})
    assert response.status_code == 400
    assert 'class="notice notice-error error-summary"' in response.text
    assert '<a href="#personal_id">Số định danh cá nhân phải gồm đúng 12 chữ số.</a>' in response.text
    assert 'aria-invalid="true"' in response.text
    kept = typed[:50].replace("<", "&lt;").replace(">", "&gt;")
    assert f'value="{kept}"' in response.text
    assert "<b>079" not in response.text
    assert _admins(engine) == before


async def test_removing_needs_a_confirmation_and_the_removed_session_loses_the_console(
    signed_in: Browser, engine: Engine
) -> None:
    admin = await signed_in(name="Trần Văn Quản")
    other_id = new_personal_id()
    other = await signed_in(personal_id=other_id, name="Phạm Thị Gỡ")
    assert (await other.get("/audit")).status_code == 200

    token = await csrf_of(admin, "/admins")
    confirm = await admin.post("/admins/remove", data={"_csrf_token": token, "personal_id": other_id})
    assert confirm.status_code == 200
    assert "Gỡ quản trị viên nền tảng?" in confirm.text and "Phạm Thị Gỡ" in confirm.text
    assert 'name="confirm" value="yes"' in confirm.text
    assert other_id in _admins(engine)  # nothing changed yet
    assert (await other.get("/audit")).status_code == 200

    removed = await admin.post(
        "/admins/remove", data={"_csrf_token": token, "personal_id": other_id, "confirm": "yes"}
    )
    assert removed.status_code == 303 and removed.headers["location"] == "/admins?done=removed"
    assert other_id not in _admins(engine)
    page = await admin.get(removed.headers["location"])
    assert "Đã gỡ quản trị viên nền tảng" in page.text
    assert "Phạm Thị Gỡ" not in page.text
    [(actor, detail)] = _audit(engine, "platform_admin.removed", other_id)
    assert actor.startswith("platform_admin:") and detail["address"]
    # The removed administrator's open session loses the console on its very next request.
    assert (await other.get("/audit")).status_code == 403
    assert (await other.get("/admins")).status_code == 403

    # Removing someone who is no longer an administrator changes nothing.
    gone = await admin.post("/admins/remove", data={"_csrf_token": token, "personal_id": other_id})
    assert gone.headers["location"] == "/admins?done=absent"


async def test_nobody_removes_themselves(signed_in: Browser, engine: Engine) -> None:
    me = new_personal_id()
    admin = await signed_in(personal_id=me)
    await signed_in()  # another administrator: it is not the last-one rule that refuses
    listing = await admin.get("/admins")
    # No button to remove oneself...
    assert f'name="personal_id" value="{me}"' not in listing.text
    token = await csrf_of(admin, "/admins")
    # ...and the service refuses a forged request, with or without the confirmation.
    for extra in ({}, {"confirm": "yes"}):
        response = await admin.post("/admins/remove", data={"_csrf_token": token, "personal_id": me, **extra})
        assert response.status_code == 409
        assert "Bạn không thể tự gỡ quyền quản trị nền tảng của chính mình." in response.text
        assert '<a href="#admins">' in response.text
    assert me in _admins(engine)
    assert _audit(engine, "platform_admin.removed", me) == []
    assert (await admin.get("/admins")).status_code == 200


async def test_a_bad_removal_request_changes_nothing(signed_in: Browser, engine: Engine) -> None:
    admin = await signed_in()
    before = _admins(engine)
    token = await csrf_of(admin, "/admins")
    response = await admin.post("/admins/remove", data={"_csrf_token": token, "personal_id": "07910000'--"})
    assert response.status_code == 400
    assert "Số định danh cá nhân phải gồm đúng 12 chữ số." in response.text
    assert _admins(engine) == before


def test_the_last_administrator_cannot_be_removed_even_from_the_command_line(engine: Engine) -> None:
    keeper = new_personal_id()
    add_platform_admin(engine, keeper, actor=Actor.operator("test"))
    others = _admins(engine) - {keeper}
    try:
        for personal_id in others:
            assert remove_platform_admin(engine, personal_id, actor=Actor.operator("test"))
        assert _admins(engine) == {keeper}
        with pytest.raises(RoleChangeRefusedError) as refused:
            remove_platform_admin(engine, keeper, actor=Actor.operator("test"))
        assert "is the last platform administrator" in str(refused.value)
        assert _admins(engine) == {keeper}
        # Someone who is not an administrator can still be "removed": nothing to do.
        assert remove_platform_admin(engine, new_personal_id(), actor=Actor.operator("test")) is False
    finally:
        for personal_id in others:  # as the other tests left it
            add_platform_admin(engine, personal_id, actor=Actor.operator("test"))


# Authorisation ----------------------------------------------------------------------------------
ROUTES = [("GET", "/admins"), ("POST", "/admins"), ("POST", "/admins/remove")]


async def _try(client: httpx.AsyncClient, method: str, path: str, target: str) -> httpx.Response:
    if method == "GET":
        return await client.get(CONSOLE + path)
    # With the CSRF token of a console form where the person has one: the guard refuses.
    token = await token_on(client, CONSOLE + "/")
    return await client.post(
        CONSOLE + path, data={"_csrf_token": token, "personal_id": target, "confirm": "yes"}
    )


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_only_platform_administrators_reach_the_administrators_pages(
    signed_in: Browser,
    anonymous: httpx.AsyncClient,
    make_tenant: MakeTenant,
    engine: Engine,
    method: str,
    path: str,
) -> None:
    tenant = make_tenant()
    target = new_personal_id()
    add_platform_admin(engine, target, actor=Actor.operator("test"))
    await signed_in()
    before = _admins(engine)

    assert refused(await _try(anonymous, method, path, target))
    nobody = await signed_in(role="none")  # logged in to the console, not an administrator
    response = await _try(nobody, method, path, target)
    assert refused(response)
    if method == "GET":
        assert response.status_code == 403
    for role in ("citizen", "officer", "tenant_admin"):
        browser = await signed_in(tenant, role=role)
        # Their session belongs to the tenant's site: on the console host it is nobody's.
        browser.cookies.set(SESSION_COOKIE, browser.cookies[SESSION_COOKIE], domain="admin.localhost")
        response = await _try(browser, method, path, target)
        assert refused(response), role
        assert "Quản trị viên nền tảng</h1>" not in response.text
        # And the console's pages are not on the tenant's host.
        on_tenant = await browser.get(f"http://{tenant.slug}.localhost/console{path}")
        assert refused(on_tenant) or on_tenant.status_code == 404, role
        assert "Quản trị viên nền tảng</h1>" not in on_tenant.text
    assert _admins(engine) == before


async def test_a_forged_post_without_the_csrf_token_changes_nothing(
    signed_in: Browser, engine: Engine
) -> None:
    admin = await signed_in()
    target = new_personal_id()
    response = await admin.post("/admins", data={"personal_id": target})
    assert response.status_code == 403
    assert target not in _admins(engine)
