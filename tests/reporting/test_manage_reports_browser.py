"""/manage/reports on `make run`, in a real browser, signed in as the demo tenant administrator:
the report, a list behind a figure and the publication's confirmation (with its error summary)
pass axe-core and break no rule of the Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import async_playwright

from motcua.reporting.periods import Period
from tests.e2e.test_browser_journey import CHROMIUM_ARGS, assert_accessible
from tests.e2e.test_run import _free_port, _start, _stop


async def test_the_reports_pass_axe(tmp_path: Path) -> None:
    port = _free_port()
    server = _start(tmp_path / "data", port, log=tmp_path / "run.log")
    base = f"http://hanoi.localhost:{port}"
    month = Period.current_month()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = await (await browser.new_context(locale="vi-VN")).new_page()
            csp: list[str] = []
            page.on(
                "console",
                lambda message: (
                    csp.append(message.text) if "Content Security Policy" in message.text else None
                ),
            )
            await page.goto(base + "/")
            await page.get_by_role("link", name="Đăng nhập").first.click()
            await page.get_by_role("button", name="Đăng nhập với tư cách Đặng Quốc Bảo").click()
            await page.wait_for_url(base + "/**")

            await page.goto(base + "/manage/reports")
            await page.get_by_role("link", name="Báo cáo", exact=True).wait_for()
            await assert_accessible(page, "/manage/reports")
            # Another period through the form, then one unit's figures, then a list behind a figure.
            await page.select_option("#ky", month.previous().key)
            await page.get_by_role("button", name="Xem").click()
            await page.wait_for_url(f"**/manage/reports?ky={month.previous().key}&don-vi=")
            await assert_accessible(page, "/manage/reports, last month")
            await page.select_option("#don-vi", index=1)  # the first unit: the service centre
            await page.get_by_role("button", name="Xem").click()
            await page.wait_for_url(f"**/manage/reports?ky={month.previous().key}&don-vi=*")
            await assert_accessible(page, "/manage/reports, last month, one unit")
            response = await page.goto(f"{base}/manage/reports/dossiers?ky={month.key}&chi-tieu=received")
            assert response is not None and response.status == 200
            await assert_accessible(page, "list behind a figure")
            # The confirmation, then a refusal (the current month is not over) with its summary.
            await page.goto(f"{base}/manage/reports/publish?ky={month.key}")
            await assert_accessible(page, "publication confirmation")
            async with page.expect_navigation() as navigation:
                await page.get_by_role("button", name="Công bố số liệu").click()
            refused = await navigation.value
            assert refused is not None and refused.status == 409
            assert await page.locator('main [role="alert"]').count() == 1
            await assert_accessible(page, "publication refused")
            await browser.close()
        assert csp == []
    finally:
        _stop(server)
