"""What a new user does on `make run`, in a real browser (Debian's chromium, driven by
Playwright), with an axe-core accessibility check on every citizen page."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.async_api import Page, async_playwright

from tests.e2e.test_run import _free_port, _start, _stop

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


async def assert_accessible(page: Page, where: str) -> None:
    # Through the DevTools protocol rather than add_script_tag: that adds an inline <script>,
    # which the portal's Content-Security-Policy (rightly) refuses to run.
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = await page.evaluate(
        "async () => { const r = await axe.run(document,"
        " {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target)})); }"
    )
    serious = [v for v in result if v["impact"] in ("serious", "critical")]
    assert serious == [], f"{where}: {json.dumps(serious, ensure_ascii=False)}"


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
            await page.get_by_role("link", name="Nộp hồ sơ trực tuyến").click()
            await assert_accessible(page, "form")

            # The e-ID fills in only the applicant's own answers: he is the father, not the mother.
            assert await page.get_by_label("Họ và tên mẹ").input_value() == ""
            await page.get_by_label("Họ và tên mẹ").fill("Trần Thị Hoa")
            await page.get_by_label("Số định danh cá nhân của mẹ").fill("001190012345")
            await page.get_by_label("Họ, chữ đệm và tên của trẻ").fill("Nguyễn Minh Khôi")
            await page.get_by_label("Ngày, tháng, năm sinh").fill("2026-11-20")
            await page.get_by_label("Giới tính").select_option("Nam")
            await page.get_by_label("Nơi sinh").fill("Bệnh viện Phụ sản Hà Nội")
            await page.get_by_label("Có thông tin người cha").select_option("Không")
            await page.wait_for_timeout(1200)  # let the draft autosave run
            for document in ("to-khai", "giay-chung-sinh"):
                await page.locator(f"#file-{document}").set_input_files(str(upload))
                await page.locator(f"#doc-{document} button").click()
                await page.wait_for_load_state()
            assert await page.get_by_label("Họ, chữ đệm và tên của trẻ").input_value() == "Nguyễn Minh Khôi"
            await page.get_by_role("button", name="Tiếp tục").click()
            await page.wait_for_url("**/apply/review")
            await assert_accessible(page, "review")
            await page.get_by_test_id("submit-dossier").click()
            await page.wait_for_load_state()
            await page.wait_for_url("**/slip**")  # with the one-time ?moi=1
            await assert_accessible(page, "slip")
            code = (await page.get_by_test_id("dossier-code").inner_text()).strip()
            assert code.startswith("000.00.01.H26-")
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
