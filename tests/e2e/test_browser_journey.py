"""What a new user does on `make run`, in a real browser (Debian's chromium, driven by
Playwright), with an axe-core accessibility check on every citizen page."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import async_playwright

from tests.e2e.journeys.apply import apply_for_birth_registration

# The accessibility check and the browser's settings live with the journeys (journeys/browser.py);
# other browser tests still import them from here.
from tests.e2e.journeys.browser import CHROMIUM_ARGS as CHROMIUM_ARGS
from tests.e2e.journeys.browser import PDF as PDF
from tests.e2e.journeys.browser import assert_accessible as assert_accessible
from tests.e2e.test_run import _free_port, _start, _stop


async def test_a_citizen_applies_for_a_birth_registration_in_a_browser(tmp_path: Path) -> None:
    port = _free_port()
    server = _start(tmp_path / "data", port)
    base = f"http://hanoi.localhost:{port}"
    upload = tmp_path / "to-khai.pdf"
    upload.write_bytes(PDF)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            context = await browser.new_context(accept_downloads=True, locale="vi-VN")
            page = await context.new_page()
            # Whatever the Content-Security-Policy blocked (an inline script or style, a form
            # posting or redirecting where the policy does not allow) is reported on the console.
            csp_violations: list[str] = []
            page.on(
                "console",
                lambda message: (
                    csp_violations.append(f"{page.url}: {message.text}")
                    if "Content Security Policy" in message.text
                    else None
                ),
            )

            await page.goto(base + "/")
            await assert_accessible(page, "home")
            await page.get_by_role("link", name="Đăng nhập").click()
            await page.get_by_role("button", name="Đăng nhập với tư cách Nguyễn Văn An").click()
            await page.wait_for_url(base + "/")
            assert await page.get_by_test_id("signed-in-as").inner_text() == "Nguyễn Văn An"

            await page.get_by_label("Tìm thủ tục hành chính").fill("khai sinh")
            await page.get_by_role("button", name="Tìm kiếm").click()
            await page.wait_for_url("**/procedures?q=khai+sinh**")
            await page.get_by_role("link", name="Đăng ký khai sinh", exact=True).first.wait_for()
            await assert_accessible(page, "search")
            await page.get_by_role("link", name="Đăng ký khai sinh", exact=True).first.click()
            await assert_accessible(page, "procedure")
            # The task list, each step and the confirmation, each page checked.
            code = await apply_for_birth_registration(page, base, upload, "vi", check=assert_accessible)
            assert code == (await page.get_by_test_id("dossier-code").inner_text()).strip()
            # Received by the ward the e-ID address names (a commune-level procedure): its code.
            assert code.startswith("000.70.00.H26-")
            assert await page.get_by_test_id("due-date").inner_text()

            async with page.expect_download() as download_info:
                await page.get_by_role("link", name="Tải phiếu hẹn (PDF)").click()
            download = await download_info.value
            saved = tmp_path / "slip.pdf"
            await download.save_as(saved)
            assert saved.read_bytes().startswith(b"%PDF")

            await page.goto(base + "/my/dossiers")
            await assert_accessible(page, "my dossiers")
            assert code in await page.content()
            await page.goto(base + "/tracking")
            await page.get_by_label("Mã hồ sơ").fill(code)
            await page.get_by_role("button", name="Tra cứu").click()
            await assert_accessible(page, "tracking")
            assert "Mới đăng ký" in await page.get_by_test_id("tracking-result").inner_text()

            # Logging out goes through the e-ID provider (a form whose redirect leaves the portal,
            # which the policy's form-action allows for the signed-in person) and comes back.
            await page.get_by_role("button", name="Đăng xuất").click()
            await page.wait_for_url(base + "/")
            await page.get_by_role("link", name="Đăng nhập").wait_for()
            assert csp_violations == []
            await browser.close()
    finally:
        _stop(server)
