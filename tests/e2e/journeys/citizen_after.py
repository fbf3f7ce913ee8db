"""What the citizen does once the dossier is in: finds it, answers the officer's request for a
supplement, pays online through the Stripe stand-in, receives the result and rates the service.
Each step takes the citizen's signed-in page and a ``Checker`` that checks every page shown."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page

from tests.e2e.journeys.browser import Checker


async def find_dossier(page: Page, base: str, code: str, checker: Checker) -> None:
    """From "my dossiers" to the dossier page, and the dossier tracked by its code."""
    await checker.visit(page, base + "/my/dossiers", "my dossiers")
    await page.locator(f'main a[href="/my/dossiers/{code}"]:visible').first.click()
    await page.wait_for_url(f"{base}/my/dossiers/{code}")
    await checker.check(page, "dossier page")
    await checker.visit(page, f"{base}/tracking?code={code}", "tracking")
    await page.get_by_test_id("tracking-result").wait_for()


async def answer_supplement(page: Page, base: str, code: str, upload: Path, checker: Checker) -> None:
    """The officer asked for a document again: the citizen uploads it and sends the supplement."""
    await page.goto(f"{base}/my/dossiers/{code}")
    await page.locator("#supplement").wait_for()
    await checker.check(page, "dossier page, supplement requested")
    await page.locator("#supplement input[type=file]").set_input_files(str(upload))
    async with page.expect_navigation():
        await page.locator(f'form[action="/my/dossiers/{code}/supplement/files"] button[type=submit]').click()
    async with page.expect_navigation():
        await page.locator(f'form[action="/my/dossiers/{code}/supplement"] button[type=submit]').click()
    await page.wait_for_url(f"{base}/my/dossiers/{code}**")
    assert await page.locator("#supplement").count() == 0, "the supplement is still asked for"
    await checker.check(page, "dossier page, supplement sent")


async def pay_online(page: Page, base: str, code: str, checker: Checker) -> None:
    """The fee the officer asked for, paid on the Stripe stand-in's test checkout; the
    receipt is issued and the dossier shows it paid."""
    await page.goto(f"{base}/my/dossiers/{code}")
    await checker.check(page, "dossier page, payment requested")
    await page.locator(f'form[action="/my/dossiers/{code}/pay"] button[type=submit]').click()
    await page.wait_for_url("http://127.0.0.1:*/pay/cs_test_*")
    # The stand-in is not the product (it plays Stripe's hosted page): not checked.
    await page.get_by_role("button", name="Pay / Thanh toán").click()
    await page.wait_for_url(f"{base}/payments/*/return**")
    await checker.check(page, "payment result")
    status = await page.locator("[data-payment-status]").first.get_attribute("data-payment-status")
    assert status == "succeeded", status
    await page.get_by_test_id("receipt-link").first.click()
    await page.wait_for_url(f"{base}/receipts/*")
    await checker.check(page, "receipt")
    await page.goto(f"{base}/my/dossiers/{code}")
    assert await page.locator("[data-paid]").first.get_attribute("data-paid") == "yes"


async def receive_and_rate(page: Page, base: str, code: str, checker: Checker) -> None:
    """The result delivered: the dossier page shows it with the rating form (offered only once
    the result is delivered); the citizen rates 5/5 and finds the result among their documents."""
    await page.goto(f"{base}/my/dossiers/{code}")
    form = page.locator(f'form[action="/my/dossiers/{code}/rating"]')
    await form.wait_for()  # loaded by htmx into the page
    await checker.check(page, "dossier page, result delivered")
    await form.locator('input[name="score"][value="5"]').check()
    await form.locator("textarea").fill("Cán bộ hướng dẫn tận tình.")
    await form.locator("button[type=submit]").click()
    await page.get_by_test_id("rating").wait_for()
    await checker.check(page, "dossier page, rated")
    await checker.visit(page, base + "/my/documents", "my documents")
