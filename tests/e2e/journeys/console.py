"""A platform administrator on the console host: the list of portals, one portal's page and the
onboarding form (filled in but not sent: onboarding a province is the console test's journey)."""

from __future__ import annotations

from playwright.async_api import Page

from tests.e2e.journeys.browser import Checker, follow_link


async def tour_console(page: Page, console: str, checker: Checker) -> None:
    await checker.visit(page, console + "/", "console: home")
    await page.locator('main a[href="/tenants/hanoi"]:visible').first.click()
    await page.wait_for_url(console + "/tenants/hanoi")
    await checker.check(page, "console: a portal")
    await follow_link(page, "/tenants/new")
    await page.wait_for_url(console + "/tenants/new")
    await page.locator("#slug").fill("caobang")
    await page.locator("#slug-check:not(:empty)").wait_for()  # checked as it is typed (htmx)
    await checker.check(page, "console: onboarding form")
