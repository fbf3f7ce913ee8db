"""Paying a fee on `make run` in a real browser: the dossier page's pay button, the local
Stripe stand-in's test checkout, the way back, the receipt (with accessibility checks)."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import async_playwright

from tests.e2e.test_browser_journey import CHROMIUM_ARGS, PDF, assert_accessible
from tests.e2e.test_run import _free_port, _start, _stop


async def test_a_citizen_pays_online_and_gets_a_receipt_in_a_browser(tmp_path: Path) -> None:
    port = _free_port()
    server = _start(tmp_path / "data", port)
    base = f"http://hanoi.localhost:{port}"
    upload = tmp_path / "to-khai.pdf"
    upload.write_bytes(PDF)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = await (await browser.new_context(locale="vi-VN")).new_page()
            await page.goto(base + "/")
            await page.get_by_role("link", name="Đăng nhập").click()
            await page.get_by_role("button", name="Đăng nhập với tư cách Nguyễn Văn An").click()
            await page.wait_for_url(base + "/")

            # The task list's steps: the answers, the document, how to receive, check and submit.
            await page.goto(base + "/procedures/1.004873/apply/answers")
            await page.get_by_label("Mục đích sử dụng").select_option("Kết hôn")
            await page.get_by_label("Tình trạng hôn nhân hiện tại").select_option("Chưa kết hôn")
            await page.get_by_role("button", name="Tiếp tục", exact=True).click()
            await page.wait_for_url("**/apply/documents")
            await page.locator("#file-to-khai").set_input_files(str(upload))
            await page.get_by_test_id("upload-to-khai").click()
            await page.get_by_test_id("uploaded-to-khai").wait_for()
            await page.get_by_role("button", name="Tiếp tục", exact=True).click()
            await page.wait_for_url("**/apply/delivery")
            await page.get_by_label("Nhận trực tiếp tại Bộ phận Một cửa").check()
            await page.get_by_role("button", name="Tiếp tục", exact=True).click()
            await page.wait_for_url("**/apply/review")
            assert "15.000" in await page.get_by_test_id("fee-notice").inner_text()
            await page.get_by_label("Tôi xin cam đoan").check()
            await page.get_by_test_id("submit-dossier").click()
            await page.wait_for_url("**/slip**")  # with the one-time ?moi=1
            code = (await page.get_by_test_id("dossier-code").inner_text()).strip()

            await page.goto(f"{base}/my/dossiers/{code}")
            await assert_accessible(page, "dossier with a fee")
            await page.get_by_role("button", name="Thanh toán trực tuyến").click()
            await page.wait_for_url("http://127.0.0.1:*/pay/cs_test_*")
            assert "15.000 ₫" in await page.content()
            await page.get_by_role("button", name="Pay / Thanh toán").click()
            await page.wait_for_url(f"{base}/payments/*/return")
            await assert_accessible(page, "payment result")
            assert (
                await page.locator("[data-payment-status]").get_attribute("data-payment-status")
                == "succeeded"
            )
            await page.get_by_test_id("receipt-link").click()
            await page.wait_for_url(f"{base}/receipts/*")
            await assert_accessible(page, "receipt")
            assert await page.get_by_test_id("receipt-amount").inner_text() == "15.000 ₫"
            await page.goto(f"{base}/my/dossiers/{code}")
            assert await page.locator("[data-paid]").get_attribute("data-paid") == "yes"
            await browser.close()
    finally:
        _stop(server)
