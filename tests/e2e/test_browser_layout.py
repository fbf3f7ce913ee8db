"""What the stylesheet and the vendored files must do in a real browser (Debian's chromium,
driven by Playwright) on `make run`, with every request off this machine refused: conditional
fields stay hidden until they apply, the search page fits a 390 px phone, and the API reference
at /schema shows without any CDN."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Page, Route, async_playwright

from tests.e2e.test_browser_journey import CHROMIUM_ARGS
from tests.e2e.test_run import _free_port, _start, _stop

OFF_THIS_MACHINE = re.compile(r"^https?://(?!(?:[a-z0-9-]+\.)*localhost[:/]|127\.0\.0\.1[:/])")


async def _fits(page: Page, where: str) -> None:
    widths = await page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"{where} scrolls sideways: {widths}"


async def test_hidden_fields_the_phone_width_and_the_offline_api_reference(tmp_path: Path) -> None:
    port = _free_port()
    server = _start(tmp_path / "data", port)
    base = f"http://hanoi.localhost:{port}"
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            context = await browser.new_context(locale="vi-VN")
            refused: list[str] = []

            async def refuse(route: Route) -> None:
                refused.append(route.request.url)
                await route.abort()

            await context.route(OFF_THIS_MACHINE, refuse)
            page = await context.new_page()

            # The father's fields of birth registration appear only once "Có" is chosen.
            await page.goto(base + "/")
            await page.get_by_role("link", name="Đăng nhập").click()
            await page.get_by_role("button", name="Đăng nhập với tư cách Nguyễn Văn An").click()
            await page.wait_for_url(base + "/")
            await page.goto(base + "/procedures/1.001193/apply")
            father = page.get_by_label("Họ và tên cha")
            assert not await father.is_visible()
            assert not await page.get_by_label("Số định danh cá nhân của cha").is_visible()
            await page.get_by_label("Có thông tin người cha").select_option("Có")
            await father.wait_for(state="visible")
            await page.get_by_label("Có thông tin người cha").select_option("Không")
            await father.wait_for(state="hidden")
            await page.goto(base + "/procedures/1.004873/apply")
            other = page.get_by_label("Mục đích khác (ghi rõ)")
            assert not await other.is_visible()
            await page.get_by_label("Mục đích sử dụng").select_option("Khác")
            await other.wait_for(state="visible")

            # The search page on a 390 px phone, with results and without.
            await page.set_viewport_size({"width": 390, "height": 844})
            for path in ("/procedures?q=khai+sinh", "/procedures", "/"):
                await page.goto(base + path)
                await _fits(page, path)

            # The API reference renders with nothing but the portal's own files.
            await page.set_viewport_size({"width": 1280, "height": 900})
            await page.goto(base + "/schema")
            await page.get_by_role("heading", name=re.compile("motcua")).first.wait_for(timeout=20000)
            assert refused == []
            await browser.close()
    finally:
        _stop(server)
