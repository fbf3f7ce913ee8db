"""Every journey, one after the other, in one variant (a screen and a language), as the browser
matrix (tests/e2e/test_browser_matrix.py) and `make screenshots` (tests/e2e/screenshots.py) run
them: the citizen applies, the officer processes, the citizen sends a supplement, pays, receives
and rates; then a tenant administrator and the platform administrator. Each person has a
browser context of their own and signs in once."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, Page, StorageState

from tests.e2e.journeys.admin import manage_portal
from tests.e2e.journeys.apply import apply_for_birth_registration
from tests.e2e.journeys.browser import (
    ADMIN,
    CITIZEN,
    OFFICER,
    Checker,
    Product,
    choose_language,
    new_page,
    sign_in,
)
from tests.e2e.journeys.citizen_after import answer_supplement, find_dossier, pay_online, receive_and_rate
from tests.e2e.journeys.console import tour_console
from tests.e2e.journeys.officer import officer_finishes, officer_processes, request_fee

# What the journeys type that is Vietnamese data, not interface text.
TYPED = [
    "Nguyễn Minh Khôi",
    "Trần Thị Hoa",
    "Bệnh viện Phụ sản Hà Nội",
    "Ảnh giấy chứng sinh bị mờ",
    "Giấy chứng sinh (chụp lại rõ nét)",
    "Cán bộ hướng dẫn tận tình.",
]
COPIES_FEE = "16000"  # two certified copies of the birth certificate extract, 8.000 ₫ each


# The cookies of the officer and the administrator once signed in, kept from one variant to the
# next: each signs in once per run (the citizen signs in in every variant: it is their journey).
SignedIn = dict[str, StorageState]


async def _person(
    browser: Browser, checker: Checker, signed_in: SignedIn, name: str, hosts: list[str]
) -> Page:
    """A person of their own (a browser context), signed in on each of ``hosts``."""
    page = await new_page(browser, checker.variant, checker.findings, signed_in=signed_in.get(name))
    await checker.watch(page)
    if name not in signed_in:
        for base in hosts:
            await sign_in(page, base, name)
        signed_in[name] = await page.context.storage_state()
    return page


async def every_journey(
    product: Product, browser: Browser, checker: Checker, upload: Path, signed_in: SignedIn
) -> None:
    portal, console, lang = product.portal, product.console, checker.variant.lang

    # The citizen: the home page, signs in, searches, reads the procedure, applies.
    citizen = await new_page(browser, checker.variant, checker.findings)
    await checker.watch(citizen)
    await choose_language(citizen, portal, lang)
    await checker.check(citizen, "home")
    await sign_in(citizen, portal, CITIZEN)
    await checker.check(citizen, "home, signed in")
    search = citizen.locator("form.search input[name=q]").first
    await search.fill("khai sinh")
    await search.press("Enter")
    await citizen.wait_for_url("**/procedures?q=**")
    found = citizen.locator('main a[href="/procedures/1.001193"]').first
    await found.wait_for()
    await checker.check(citizen, "search results")
    await found.click()
    await citizen.wait_for_url(portal + "/procedures/1.001193")
    await checker.check(citizen, "procedure")
    code = await apply_for_birth_registration(citizen, portal, upload, lang, check=checker.check)
    await find_dossier(citizen, portal, code, checker)
    await checker.check_the_rest(browser)

    # The officer accepts the dossier and asks for a supplement, which the citizen sends.
    officer = await _person(browser, checker, signed_in, OFFICER, [portal])
    await choose_language(officer, portal, lang)
    await checker.visit(officer, portal + "/officer", "officer: queue")
    await officer_processes(officer, portal, code, lang)
    await checker.check(officer, "officer: workspace, supplement requested")
    await checker.check_the_rest(browser)
    await answer_supplement(citizen, portal, code, upload, checker)

    # The fee of the copies, asked for by the officer and paid online by the citizen.
    await request_fee(officer, portal, code, COPIES_FEE)
    await checker.check(officer, "officer: workspace, payment requested")
    await pay_online(citizen, portal, code, checker)

    # The officer finishes and delivers; the citizen receives the result and rates the service.
    await officer_finishes(officer, portal, code, lang)
    await checker.check(officer, "officer: workspace, delivered")
    await receive_and_rate(citizen, portal, code, checker)
    await checker.check_the_rest(browser)

    # A tenant administrator on /manage, then the platform administrator on the console.
    admin = await _person(browser, checker, signed_in, ADMIN, [portal, console])
    await choose_language(admin, portal, lang)
    await manage_portal(admin, portal, checker, reply_to=f"hotro-{checker.variant.name}@hanoi.gov.vn")
    await choose_language(admin, console, lang)
    await tour_console(admin, console, checker)
    await checker.check_the_rest(browser)

    for page in (citizen, officer, admin):
        await page.context.close()
