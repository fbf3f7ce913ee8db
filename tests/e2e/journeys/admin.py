"""A tenant administrator on the portal's /manage pages: the catalogue and one procedure, the
roles, the reports, the settings and the connected systems, moving between them by the
management navigation, and one change made (the address citizens' replies go to)."""

from __future__ import annotations

from playwright.async_api import Page

from tests.e2e.journeys.browser import Checker, follow_link

# The /manage pages in the order a person goes through them, each reached by its link.
SECTIONS = [
    ("/manage/catalog", "manage: catalogue"),
    ("/manage/roles", "manage: roles"),
    ("/manage/reports", "manage: reports"),
    ("/manage/settings", "manage: settings"),
    ("/manage/integrations", "manage: connected systems"),
]


async def manage_portal(page: Page, base: str, checker: Checker, *, reply_to: str) -> None:
    await checker.visit(page, base + "/manage/catalog", "manage: catalogue")
    for path, where in SECTIONS[1:]:
        # The management pages link to each other.
        await follow_link(page, path)
        await page.wait_for_url(base + path)
        await checker.check(page, where)

    await page.goto(base + "/manage/catalog")
    procedure = page.locator('main a[href^="/manage/catalog/1."]').first
    href = await procedure.get_attribute("href")
    await procedure.click()
    await page.wait_for_url(f"{base}{href}")
    await checker.check(page, "manage: a procedure")

    # One change: the reply-to address of the portal's e-mails, saved and shown.
    await checker.visit(page, base + "/manage/settings/mail", "manage: mail sender")
    form = page.locator('form[action="/manage/settings/mail"]')
    await form.locator('[name="reply_to"]').fill(reply_to)
    await form.locator("button[type=submit]").click()
    await page.wait_for_url(base + "/manage/settings?saved=mail")
    await page.locator('main [role="status"]').first.wait_for()
    await checker.check(page, "manage: settings saved")
    assert reply_to in await page.locator("main").inner_text()
