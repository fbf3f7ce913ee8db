"""What the officer does with a citizen's dossier in the workspace, as an officer does it: the
dossier opened from the queue, accepted, a supplement asked for; later the fee asked for, the
result uploaded, processing finished and the result handed over. Each step takes a signed-in
officer's page; the buttons are found by their ``data-action``/``data-testid`` hooks, the same in
every language, and each action must end with the workspace's success message.

Secondary and destructive actions sit in closed disclosures (``<details>``): a step opens the
one it needs, as a person clicks its summary."""

from __future__ import annotations

from playwright.async_api import FilePayload, Page

from tests.e2e.journeys.browser import PDF


async def open_from_queue(page: Page, base: str, code: str) -> None:
    """The dossier from the queue of dossiers waiting for reception (on a busy portal it may not
    be on the queue's first page: then straight to its workspace)."""
    await page.goto(base + "/officer?queue=new")
    link = page.locator(f'main a[href="/officer/dossiers/{code}"]').first
    if await link.count():
        await link.click()
        await page.wait_for_url(f"{base}/officer/dossiers/{code}")
    else:
        await page.goto(f"{base}/officer/dossiers/{code}")
    await page.get_by_test_id("actions").wait_for()


async def _done(page: Page, code: str, key: str) -> None:
    """The workspace came back saying that ``key`` was done to ``code``."""
    await page.wait_for_url(f"**/officer/dossiers/{code}?done={key}")
    banner = page.get_by_test_id("done-banner")
    await banner.wait_for()
    assert code in await banner.inner_text(), await banner.inner_text()


async def primary(page: Page, code: str, action: str) -> None:
    """The page's one primary button, which must be ``action``."""
    button = page.get_by_test_id("primary-action")
    assert await button.count() == 1, "one primary action"
    assert await button.get_attribute("data-action") == action, await button.get_attribute("data-action")
    async with page.expect_navigation():
        await button.click()
    await _done(page, code, action)


async def _open(page: Page, panel: str) -> None:
    """Opens the closed disclosure of a secondary action (``data-action-panel``)."""
    details = page.locator(f'details[data-action-panel="{panel}"]')
    if await details.get_attribute("open") is None:
        await details.locator("summary").click()


async def request_supplement(page: Page, code: str, reason: str, items: str) -> None:
    await _open(page, "request_supplement")
    await page.locator("#reason-request_supplement").fill(reason)
    await page.locator("#items-request_supplement").fill(items)
    async with page.expect_navigation():
        await page.locator('button[data-action="request_supplement"]').click()
    await _done(page, code, "request_supplement")


async def request_fee(page: Page, base: str, code: str, amount: str) -> None:
    """Asks the applicant for ``amount`` đồng (fees the catalogue cannot know, such as copies);
    the dossier must be being processed and unpaid."""
    await page.goto(f"{base}/officer/dossiers/{code}")
    await _open(page, "request_payment")
    await page.locator("#amount-request_payment").fill(amount)
    async with page.expect_navigation():
        await page.locator('button[data-action="request_payment"]').click()
    await _done(page, code, "request_payment")


async def officer_processes(page: Page, base: str, code: str, lang: str) -> None:
    """From the queue: accepts the dossier, then asks the applicant for a supplement (what the
    officer can do before the citizen's turn). ``lang`` is the page's language: what is typed
    is data, in Vietnamese whatever the interface says."""
    await open_from_queue(page, base, code)
    await primary(page, code, "accept")
    await request_supplement(page, code, "Ảnh giấy chứng sinh bị mờ", "Giấy chứng sinh (chụp lại rõ nét)")
    status = page.get_by_test_id("status")
    assert await status.count() == 1
    assert await page.get_by_test_id("primary-action").count() == 0, "the applicant's turn"


async def officer_finishes(page: Page, base: str, code: str, lang: str) -> None:
    """Once the supplement is in (and any fee paid): starts processing if not yet started,
    records a fee still owed as paid at the desk, uploads the result, finishes and delivers."""
    await page.goto(f"{base}/officer/dossiers/{code}")
    await page.get_by_test_id("actions").wait_for()
    button = page.get_by_test_id("primary-action")
    if await button.count() and await button.get_attribute("data-action") == "start":
        await primary(page, code, "start")
    counter = page.locator(f'form[action="/officer/dossiers/{code}/payments/counter"]')
    if await counter.count():
        async with page.expect_navigation():
            await counter.locator("button[type=submit]").click()
        await _done(page, code, "counter_payment")
    result: FilePayload = {"name": "giay-khai-sinh.pdf", "mimeType": "application/pdf", "buffer": PDF}
    await page.locator("#result-file").set_input_files(files=[result])
    async with page.expect_navigation():
        await page.locator(f'form[action="/officer/dossiers/{code}/results"] button[type=submit]').click()
    await _done(page, code, "result")
    # The result is in the document list and shown in the viewer.
    await page.get_by_test_id("viewer").wait_for()
    await primary(page, code, "finish")
    await primary(page, code, "deliver")
    assert await page.get_by_test_id("primary-action").count() == 0, "nothing left to do"
