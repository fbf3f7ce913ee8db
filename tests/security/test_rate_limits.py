"""Per-client budgets: 429 with Retry-After and a Vietnamese page; a forged X-Forwarded-For
buys nothing; the page and the API form of one lookup share a budget."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import httpx
import pytest
from litestar import Litestar

from motcua.core.ratelimit import WINDOW_SECONDS
from motcua.core.settings import Settings
from motcua.web.requests import forwarded_client
from tests.conftest import MakeTenant, asgi_transport

SMALL = {"lookup": 5, "login": 3, "submit": 3, "api": 4}


@pytest.fixture
async def browser_for(live_settings: Settings) -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    from motcua.app import create_app

    # Budgets count in fixed one-minute windows (core.ratelimit): a test's requests must fall in
    # one window, or the count starts again halfway and the refusal it expects never comes. A
    # test takes a second or two; starting with under ten seconds left, it waits for the next.
    left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left < 10:
        await asyncio.sleep(left + 0.1)

    apps: list[httpx.AsyncClient] = []

    def make(*, trusted: tuple[str, ...] = ()) -> httpx.AsyncClient:
        settings = replace(live_settings, rate_limits=SMALL, trusted_proxies=trusted)
        app: Litestar = create_app(settings)
        client = httpx.AsyncClient(transport=asgi_transport(app), follow_redirects=False)
        apps.append(client)
        return client

    yield make
    for client in apps:
        await client.aclose()


async def test_tracking_lookups_share_one_budget_whatever_the_form(
    browser_for: Callable[..., httpx.AsyncClient], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant()
    browser = browser_for()
    base = f"http://{tenant.slug}.localhost"
    statuses = [
        (await browser.get(f"{base}/tracking", params={"code": f"X-{i}"})).status_code for i in range(3)
    ]
    statuses += [(await browser.get(f"{base}/api/v1/tracking/X-{i}")).status_code for i in range(3)]
    assert statuses == [404, 404, 404, 404, 404, 429]
    refused = await browser.get(f"{base}/tracking", params={"code": "X-9"})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    api = await browser.get(f"{base}/api/v1/tracking/X-9")
    assert api.status_code == 429 and "retry-after" in api.headers
    assert "quá nhiều yêu cầu" in api.json()["detail"]


async def test_a_forged_forwarded_for_from_an_untrusted_peer_buys_no_guesses(
    browser_for: Callable[..., httpx.AsyncClient], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant()
    browser = browser_for()  # no trusted proxy: the peer is the client
    statuses = [
        (
            await browser.get(
                f"http://{tenant.slug}.localhost/tracking",
                params={"code": f"X-{i}"},
                headers={"x-forwarded-for": f"203.0.113.{i}"},
            )
        ).status_code
        for i in range(7)
    ]
    assert statuses[-1] == 429


async def test_behind_a_trusted_proxy_each_client_has_its_own_budget(
    browser_for: Callable[..., httpx.AsyncClient], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant()
    browser = browser_for(trusted=("127.0.0.1",))  # the test transport's peer is the proxy
    statuses = [
        (
            await browser.get(
                f"http://{tenant.slug}.localhost/tracking",
                params={"code": f"X-{i}"},
                headers={"x-forwarded-for": f"198.51.100.{i}"},
            )
        ).status_code
        for i in range(8)
    ]
    assert 429 not in statuses


async def test_login_starts_are_limited_with_a_vietnamese_page(
    browser_for: Callable[..., httpx.AsyncClient], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant()
    browser = browser_for()
    statuses = [(await browser.get(f"http://{tenant.slug}.localhost/login")).status_code for _ in range(4)]
    assert 429 not in statuses[:3] and statuses[3] == 429
    refused = await browser.get(f"http://{tenant.slug}.localhost/login")
    assert "Quá nhiều yêu cầu" in refused.text and "retry-after" in refused.headers
    # Another portal is another budget.
    other = make_tenant()
    assert (await browser.get(f"http://{other.slug}.localhost/login")).status_code != 429


async def test_the_public_api_is_limited(
    browser_for: Callable[..., httpx.AsyncClient], make_tenant: MakeTenant
) -> None:
    tenant = make_tenant()
    browser = browser_for()
    statuses = [
        (await browser.get(f"http://{tenant.slug}.localhost/api/v1/procedures")).status_code for _ in range(5)
    ]
    assert statuses == [200, 200, 200, 200, 429]


@pytest.mark.parametrize(
    ("peer", "header", "expected"),
    [
        ("127.0.0.1", "198.51.100.7", "198.51.100.7"),
        ("127.0.0.1", "198.51.100.7, 127.0.0.1", "198.51.100.7"),  # a chain of trusted proxies
        ("127.0.0.1", "10.9.9.9, 198.51.100.7", "198.51.100.7"),  # the nearest untrusted wins
        ("127.0.0.1", "not-an-address", "127.0.0.1"),
        ("203.0.113.5", "198.51.100.7", "203.0.113.5"),  # an untrusted peer says nothing
        ("127.0.0.1", None, "127.0.0.1"),
    ],
)
def test_the_client_address_is_decided_from_trusted_proxies_only(
    peer: str, header: str | None, expected: str
) -> None:
    import ipaddress

    assert forwarded_client(peer, header, [ipaddress.ip_network("127.0.0.1/32")]) == expected
