"""CSRF tokens are bound to the site that issued them."""

from __future__ import annotations

import httpx

from tests.conftest import MakeTenant, procedure

BIRTH = procedure("1.001193", "Đăng ký khai sinh")


async def _token_of(client: httpx.AsyncClient, host: str) -> tuple[str, str]:
    """(cookie, token) a visitor of ``host`` is given: every page issues the cookie, and a form
    sends the same value back (double submit)."""
    client.cookies.clear()
    await client.get("/", headers={"host": host})
    cookie = client.cookies.get("motcua_csrf")
    client.cookies.clear()
    assert cookie, "the portal issues a CSRF cookie"
    return cookie, cookie


async def _post_with(app_client: httpx.AsyncClient, host: str, cookie: str, token: str) -> int:
    # JSON errors carry the plain status: 401 (past the CSRF check, stopped by the login guard)
    # or 403 (refused by the CSRF check).
    response = await app_client.post(
        "/my/dossiers/NOPE/withdraw",
        headers={"host": host, "cookie": f"motcua_csrf={cookie}", "accept": "application/json"},
        data={"_csrf_token": token, "reason": "x"},
    )
    return response.status_code


async def test_a_token_from_one_portal_is_refused_on_another(
    make_tenant: MakeTenant, client: httpx.AsyncClient
) -> None:
    danang, hanoi = make_tenant(procedures=[BIRTH]), make_tenant(procedures=[BIRTH])
    danang_host, hanoi_host = f"{danang.slug}.localhost", f"{hanoi.slug}.localhost"
    cookie, token = await _token_of(client, danang_host)
    # On its own portal the pair passes the CSRF check (and meets the login guard: 401).
    assert await _post_with(client, danang_host, cookie, token) == 401
    # The same pair on another portal is refused before anything else runs.
    assert await _post_with(client, hanoi_host, cookie, token) == 403
    # ...and the console's own pairs are no use on a portal either.
    console_cookie, console_token = await _token_of(client, "admin.localhost")
    assert await _post_with(client, hanoi_host, console_cookie, console_token) == 403


async def test_a_page_view_replaces_a_cookie_the_portal_did_not_sign(
    make_tenant: MakeTenant, client: httpx.AsyncClient
) -> None:
    danang, hanoi = make_tenant(), make_tenant()
    foreign, _ = await _token_of(client, f"{danang.slug}.localhost")
    page = await client.get(
        "/", headers={"host": f"{hanoi.slug}.localhost", "cookie": f"motcua_csrf={foreign}; lang=vi"}
    )
    fresh = page.cookies.get("motcua_csrf")
    assert fresh and fresh != foreign  # otherwise every form of this portal would be refused
    client.cookies.clear()
    assert await _post_with(client, f"{hanoi.slug}.localhost", fresh, fresh) == 401
