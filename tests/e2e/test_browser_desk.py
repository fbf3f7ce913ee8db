"""An officer of Hà Nội on `make run` (Phạm Thị Thu Hà, development e-ID) receives a walk-in
dossier and a postal one in a real browser (Debian's chromium, driven by Playwright), downloads
each appointment slip, then works on both in the workspace (journeys/officer.py): the postal
one accepted and a supplement asked for, the walk-in one taken to its result and handed over;
axe-core checks every page of the way, on a desktop and on a phone screen."""

from __future__ import annotations

import io
import re
import unicodedata
from datetime import date
from pathlib import Path

from playwright.async_api import Page, async_playwright
from pypdf import PdfReader

from tests.e2e.journeys.officer import officer_finishes, officer_processes
from tests.e2e.test_browser_journey import CHROMIUM_ARGS, PDF, assert_accessible
from tests.e2e.test_run import _free_port, _start, _stop


def _pdf_text(path: Path) -> str:
    content = path.read_bytes()
    assert content.startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    return " ".join(unicodedata.normalize("NFC", text).split())


async def _download_slip(page: Page, saved: Path) -> str:
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Tải phiếu hẹn (PDF)").click()
    download = await download_info.value
    await download.save_as(saved)
    return _pdf_text(saved)


async def test_an_officer_receives_walk_in_and_postal_dossiers_in_a_browser(tmp_path: Path) -> None:
    port = _free_port()
    server = _start(tmp_path / "data", port)
    base = f"http://hanoi.localhost:{port}"
    scan = tmp_path / "ban-quet.pdf"
    scan.write_bytes(PDF)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            context = await browser.new_context(accept_downloads=True, locale="vi-VN")
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

            await page.goto(base + "/")
            await page.get_by_role("link", name="Đăng nhập").click()
            await page.get_by_role("button", name="Đăng nhập với tư cách Phạm Thị Thu Hà").click()
            # Officers land on their queue (or the home page, on portals that send them there).
            await page.wait_for_url(re.compile(re.escape(base) + r"/(officer)?$"))

            # A walk-in: found by name, typed in with one mistake first, scans attached.
            await page.goto(base + "/officer")
            await page.get_by_role("link", name="Tiếp nhận hồ sơ trực tiếp, qua bưu chính").click()
            await page.wait_for_url("**/officer/receive")
            await assert_accessible(page, "choose a procedure")
            await page.get_by_label("Tìm thủ tục theo tên hoặc mã").fill("khai sinh")
            await page.get_by_role("button", name="Tìm thủ tục").click()
            await page.wait_for_url("**/officer/receive?q=**")
            await assert_accessible(page, "procedures found")
            await (
                page.get_by_test_id("procedure-results")
                .get_by_role("link", name="Đăng ký khai sinh", exact=True)
                .click()
            )
            await page.wait_for_url("**/officer/receive?procedure=1.001193")
            await assert_accessible(page, "walk-in form")
            assert await page.get_by_label("Trực tiếp tại Bộ phận Một cửa").is_checked()
            assert await page.locator('input[name="digitised-to-khai"]').is_checked()

            await page.locator("#applicant-personal_id").fill("12345")
            await page.locator("#applicant-full_name").fill("Hoàng Thị Lan")
            await page.locator("#applicant-phone").fill("0987654321")
            await page.locator("#applicant-address").fill("Số 5 phố Huế, Hai Bà Trưng")
            await page.locator("#data-child_full_name").fill("Hoàng Gia Bảo")
            await page.locator("#data-child_birth_date").fill(date.today().isoformat())
            await page.locator("#data-child_gender").select_option("Nam")
            await page.locator("#data-birth_place").fill("Bệnh viện Phụ sản Hà Nội")
            await page.locator("#data-mother_full_name").fill("Hoàng Thị Lan")
            await page.locator("#data-mother_personal_id").fill("001190007777")
            await page.locator("#data-has_father").select_option("Không")
            await page.locator("#data-contact_phone").fill("0987654321")
            for document in ("to-khai", "giay-chung-sinh"):
                await page.locator(f"#documents-{document}").set_input_files(str(scan))
            await page.get_by_role("button", name="Tiếp nhận hồ sơ").click()
            await page.locator("#error-summary").wait_for()
            await assert_accessible(page, "walk-in form with errors")
            assert await page.locator("#data-child_full_name").input_value() == "Hoàng Gia Bảo"
            await page.locator("#error-summary").get_by_role("link", name="Số định danh cá nhân gồm").click()
            await page.locator("#applicant-personal_id").fill("001190007777")
            for document in ("to-khai", "giay-chung-sinh"):
                await page.locator(f"#documents-{document}").set_input_files(str(scan))
            await page.get_by_role("button", name="Tiếp nhận hồ sơ").click()
            await page.wait_for_url("**/officer/receive/000.00.01.H26-*")
            await assert_accessible(page, "walk-in received")
            walk_in = (await page.get_by_test_id("dossier-code").inner_text()).strip()
            assert await page.get_by_test_id("due-date").inner_text()
            channel = await page.get_by_test_id("channel").inner_text()
            assert channel == "Trực tiếp tại Bộ phận Một cửa, do cán bộ tiếp nhận"
            slip = await _download_slip(page, tmp_path / "walk-in.pdf")
            assert walk_in in slip
            assert "Hình thức nộp hồ sơ: Trực tiếp tại Bộ phận Một cửa, do cán bộ tiếp nhận" in slip
            assert "Bản giấy, đã số hóa" in slip

            # A dossier that came by post: chosen from the list, one document sent electronically.
            await page.get_by_role("link", name="Tiếp nhận hồ sơ khác").click()
            await page.get_by_label("Hoặc chọn trong danh sách thủ tục").select_option(
                label="Đăng ký khai tử (1.000656)"
            )
            await page.get_by_role("button", name="Chọn thủ tục").click()
            await page.wait_for_url("**/officer/receive?procedure=1.000656")
            await page.get_by_label("Qua dịch vụ bưu chính công ích").check()
            await page.locator("#applicant-personal_id").fill("001085004444")
            await page.locator("#applicant-full_name").fill("Đỗ Văn Nam")
            await page.locator("#data-deceased_full_name").fill("Đỗ Văn Hùng")
            await page.locator("#data-deceased_personal_id").fill("001040003333")
            await page.locator("#data-date_of_death").fill(date.today().isoformat())
            await page.locator("#data-place_of_death").fill("Số 9 phố Lò Đúc, Hai Bà Trưng")
            await page.locator("#data-relationship").fill("Con")
            await page.locator("#documents-to-khai").set_input_files(str(scan))
            await page.locator("#documents-giay-bao-tu").set_input_files(str(scan))
            await page.locator('input[name="digitised-giay-bao-tu"]').uncheck()
            await assert_accessible(page, "postal form")
            await page.get_by_role("button", name="Tiếp nhận hồ sơ").click()
            await page.wait_for_url("**/officer/receive/000.00.01.H26-*")
            postal = (await page.get_by_test_id("dossier-code").inner_text()).strip()
            assert postal != walk_in
            channel = await page.get_by_test_id("channel").inner_text()
            assert channel == "Qua dịch vụ bưu chính công ích, do cán bộ tiếp nhận"
            slip = await _download_slip(page, tmp_path / "postal.pdf")
            assert "Hình thức nộp hồ sơ: Qua dịch vụ bưu chính công ích, do cán bộ tiếp nhận" in slip
            assert "Bản giấy, đã số hóa" in slip and "Bản điện tử" in slip

            await page.get_by_role("link", name="Mở hồ sơ").click()
            await page.wait_for_url(f"**/officer/dossiers/{postal}")
            await assert_accessible(page, "workspace of the postal dossier")
            assert "do cán bộ tiếp nhận" in await page.get_by_test_id("channel").inner_text()
            assert await page.get_by_test_id("digitised").count() == 1
            await page.goto(base + "/officer?queue=new")
            queue = await page.content()
            assert walk_in in queue and postal in queue
            await assert_accessible(page, "queue")

            # The workspace: the postal dossier accepted and a supplement asked for, on a desktop.
            await officer_processes(page, base, postal, "vi")
            await assert_accessible(page, "workspace, supplement requested")
            # The viewer shows the dossier's first document beside the actions once asked for (a
            # PDF viewer loading by itself would take the focus from the forms being filled in).
            assert await page.get_by_test_id("viewer").locator("iframe").count() == 0
            await page.get_by_test_id("open-viewer").click()
            frame = page.get_by_test_id("viewer").locator("iframe")
            assert (await frame.get_attribute("src") or "").startswith("/officer/files/")
            await assert_accessible(page, "workspace, document shown")
            # Refusing asks for a confirmation first: the disclosure opens on the reason and
            # the confirm button, nothing is sent until it is pressed.
            await page.set_viewport_size({"width": 390, "height": 844})
            await page.goto(base + f"/officer/dossiers/{walk_in}")
            await page.locator('details[data-action-panel="refuse"] summary').click()
            await page.locator("#reason-refuse").wait_for()
            await assert_accessible(page, "workspace on a phone, refusal opened")
            widths = await page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert widths[0] <= widths[1], f"the workspace scrolls sideways on a phone: {widths}"
            # The walk-in dossier to its result, on the phone.
            await page.get_by_test_id("primary-action").click()
            await page.wait_for_url(f"**/officer/dossiers/{walk_in}?done=accept")
            await officer_finishes(page, base, walk_in, "vi")
            await assert_accessible(page, "workspace, result delivered")
            assert csp_violations == []
            await browser.close()
    finally:
        _stop(server)
