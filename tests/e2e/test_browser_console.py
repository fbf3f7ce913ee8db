"""A platform administrator runs the platform from the browser on `make run`: onboards a new
province from the console, watches its steps complete, opens its portal, suspends it (503 on its
host, with the reason) and resumes it; every console page passes axe, in Vietnamese and English."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.async_api import Page, async_playwright

from tests.e2e.test_browser_journey import CHROMIUM_ARGS, assert_accessible
from tests.e2e.test_run import _free_port, _start, _stop


def _get_portal(port: int) -> httpx.Response:
    """The new portal's home from outside the browser (the system resolver, unlike chromium,
    does not map *.localhost to this machine)."""
    return httpx.get(f"http://127.0.0.1:{port}/", headers={"host": f"caobang.localhost:{port}"})


async def _sign_in(page: Page, console: str) -> None:
    await page.goto(console + "/")
    await page.get_by_role("link", name="Đăng nhập bằng định danh điện tử").click()
    await page.get_by_role("button", name="Đăng nhập với tư cách Đặng Quốc Bảo").click()
    await page.wait_for_url(console + "/")


async def test_a_platform_administrator_onboards_suspends_and_resumes_a_province(tmp_path: Path) -> None:
    port = _free_port()
    server = _start(tmp_path / "data", port, log=tmp_path / "run.log")
    console = f"http://admin.localhost:{port}"
    portal = f"http://caobang.localhost:{port}"
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            context = await browser.new_context(locale="vi-VN")
            page = await context.new_page()
            csp_violations: list[str] = []
            page.on(
                "console",
                lambda message: (
                    csp_violations.append(f"{page.url}: {message.text}")
                    if "Content Security Policy" in message.text
                    else None
                ),
            )
            await _sign_in(page, console)
            await assert_accessible(page, "console home")
            assert "Cổng Dịch vụ công Thành phố Hà Nội" in await page.content()

            await page.get_by_role("link", name="Tiếp nhận địa phương mới").first.click()
            await page.wait_for_url(console + "/tenants/new")
            await assert_accessible(page, "onboarding form")
            await page.get_by_label("Tỉnh, thành phố hoặc bộ, ngành").select_option(label="Tỉnh Cao Bằng")
            await page.get_by_label("Tên cổng dịch vụ công").fill("Cổng Dịch vụ công tỉnh Cao Bằng")
            await page.get_by_label("Mã địa phương").fill("caobang")
            await page.get_by_text("Mã này dùng được.").wait_for()  # checked as it is typed
            await page.get_by_label("Mã cơ quan (dùng trong mã hồ sơ)").fill("000.00.01.H04")
            await page.get_by_label("Danh mục thủ tục ban đầu").select_option("common")
            await page.get_by_role("button", name="Bắt đầu khởi tạo").click()
            await page.wait_for_url(console + "/tenants/caobang")
            await assert_accessible(page, "onboarding progress")
            # The steps complete while the page is watched (htmx polls the progress).
            await page.get_by_text("Cổng đã mở").wait_for(timeout=60_000)
            assert await page.locator(".step-done").count() == 6

            await page.get_by_role("link", name=f"caobang.localhost:{port}").first.click()
            await page.wait_for_url(portal + "/")
            assert "Cổng Dịch vụ công tỉnh Cao Bằng" in await page.content()
            await page.goto(portal + "/procedures?q=kết hôn")
            assert "Đăng ký kết hôn" in await page.content()

            await page.goto(console + "/tenants/caobang")
            await assert_accessible(page, "tenant page")
            await page.get_by_role("link", name="Tạm ngừng cổng").click()
            await assert_accessible(page, "suspend confirmation")
            await page.get_by_role("button", name="Tạm ngừng cổng").click()
            await assert_accessible(page, "suspend error")  # no reason given: the error summary
            await page.get_by_label("Lý do (hiển thị cho người dân)").fill("Bảo trì định kỳ")
            await page.get_by_role("button", name="Tạm ngừng cổng").click()
            await page.wait_for_url(console + "/tenants/caobang?done=suspend")
            closed = _get_portal(port)
            assert closed.status_code == 503 and "Bảo trì định kỳ" in closed.text

            await page.get_by_role("link", name="Mở lại cổng").click()
            await page.get_by_role("button", name="Mở lại cổng").click()
            await page.wait_for_url(console + "/tenants/caobang?done=resume")
            assert _get_portal(port).status_code == 200

            # The console in English passes axe too.
            await page.goto(console + "/lang/en?next=/")
            await assert_accessible(page, "console home (en)")
            await page.goto(console + "/tenants/new")
            await assert_accessible(page, "onboarding form (en)")
            await page.goto(console + "/tenants/caobang")
            await assert_accessible(page, "tenant page (en)")
            assert csp_violations == []
            await browser.close()
    finally:
        _stop(server)
