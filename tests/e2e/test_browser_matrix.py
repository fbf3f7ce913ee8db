"""Every journey of the portal in a real browser (Debian's chromium, driven by Playwright) on one
`make run`, on a desktop (1280 × 800) and a phone (390 × 844), in Vietnamese and in English
(tests/e2e/journeys/every.py):

- a citizen signs in with the e-ID, searches, opens the procedure and applies; the officer
  accepts the dossier and asks for a supplement; the citizen sends it; the officer asks for the
  fee of the certified copies, which the citizen pays through the Stripe stand-in; the officer
  finishes and delivers; the citizen receives the result and rates the service;
- a tenant administrator goes through the /manage pages and changes a setting;
- a platform administrator opens the console, a portal and the onboarding form.

Every page on the way passes axe-core (WCAG 2.0/2.1 A and AA, no serious or critical finding),
does not scroll sideways on the phone, is in the language chosen with the footer's switch (in
English, no Vietnamese interface words in its navigation and headings), and the
Content-Security-Policy blocks nothing. One test per cell of the matrix, on one server; and on
the same server, what the stylesheet and the vendored files must do offline."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Route, async_playwright

from tests.e2e.journeys.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CITIZEN,
    DESKTOP_VI,
    PDF,
    VARIANTS,
    Checker,
    Findings,
    Product,
    Variant,
    new_page,
    running_product,
    sign_in,
)
from tests.e2e.journeys.every import TYPED, SignedIn, every_journey
from tests.e2e.test_browser_admin_pages import _data_names


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    """One `motcua run` for the whole matrix (starting it is most of the time)."""
    with running_product(tmp_path_factory.mktemp("matrix")) as running:
        yield running


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture(scope="module")
def names() -> list[str]:
    """Vietnamese that is data, not interface: the demo data's names and what the journeys type."""
    return sorted({*_data_names(), *TYPED}, key=len, reverse=True)


@pytest.fixture(scope="module")
def signed_in() -> SignedIn:
    return {}


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
async def test_every_journey_on_every_screen_in_every_language(
    product: Product,
    browser: Browser,
    names: list[str],
    signed_in: SignedIn,
    variant: Variant,
    tmp_path: Path,
) -> None:
    findings = Findings()
    checker = Checker(variant, findings, names)
    upload = tmp_path / "giay-chung-sinh.pdf"
    upload.write_bytes(PDF)
    await every_journey(product, browser, checker, upload, signed_in)
    assert len(checker.seen) > 25  # the pages left along the way were checked too
    assert findings.problems == [], "\n".join(findings.problems)
    assert findings.csp == [], "\n".join(findings.csp)


# Any address that is not this machine: the product must need none of them.
OFF_THIS_MACHINE = re.compile(r"^https?://(?!(?:[a-z0-9-]+\.)*localhost[:/]|127\.0\.0\.1[:/])")


async def test_hidden_fields_the_phone_width_and_the_offline_api_reference(
    product: Product, browser: Browser
) -> None:
    """What the stylesheet and the vendored files must do, with every request off this machine
    refused: conditional fields stay hidden until they apply, the list of procedures fits a
    390 px phone, and the API reference at /schema shows without any CDN."""
    findings = Findings()
    page = await new_page(browser, DESKTOP_VI, findings)
    refused: list[str] = []

    async def refuse(route: Route) -> None:
        refused.append(route.request.url)
        await route.abort()

    await page.context.route(OFF_THIS_MACHINE, refuse)
    base = product.portal
    await sign_in(page, base, CITIZEN)

    # The father's fields of birth registration appear only once "Có" is chosen.
    await page.goto(base + "/procedures/1.001193/apply/answers")
    father, has_father = page.locator("#father_full_name"), page.locator("#has_father")
    assert not await father.is_visible()
    assert not await page.locator("#father_personal_id").is_visible()
    await has_father.select_option("Có")
    await father.wait_for(state="visible")
    await has_father.select_option("Không")
    await father.wait_for(state="hidden")
    await page.goto(base + "/procedures/1.004873/apply/answers")
    other = page.get_by_label("Mục đích khác (ghi rõ)")
    assert not await other.is_visible()
    await page.get_by_label("Mục đích sử dụng").select_option("Khác")
    await other.wait_for(state="visible")

    # The list of procedures on a 390 px phone (with a search: every variant of the matrix).
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(base + "/procedures")
    widths = await page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"/procedures scrolls sideways: {widths}"

    # The API reference renders with nothing but the portal's own files.
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.goto(base + "/schema")
    await page.get_by_role("heading", name=re.compile("motcua")).first.wait_for(timeout=20000)
    await page.context.close()
    assert refused == []
