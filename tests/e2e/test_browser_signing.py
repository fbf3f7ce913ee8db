"""A signed result on `make run`, in a real browser (Debian's chromium, driven by Playwright): a
citizen of Hà Nội files a birth registration (over HTTP, the journey itself is tested elsewhere);
the officer of his ward (Phạm Thị Thu Hà, who holds every role there) takes it through the
workflow in the workspace, uploads the result, and as leader approves and signs it; the citizen
downloads it from his document store ("Kho giấy tờ"); the verification page opened from the QR
code printed on it says valid; a copy with one byte changed, uploaded on /xac-thuc, is refused."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pypdfium2 as pdfium  # type: ignore[import-untyped]
import zxingcpp
from fpdf import FPDF
from playwright.async_api import Page, async_playwright

from motcua.identity.oidc import LoopbackNames
from tests.e2e import choose_delivery
from tests.e2e.journeys.browser import PDF
from tests.e2e.test_back_office_run import _dev_login, _token
from tests.e2e.test_browser_journey import CHROMIUM_ARGS, assert_accessible
from tests.e2e.test_run import _free_port, _start, _stop

CITIZEN = "Nguyễn Văn An"
_FETCH_BYTES = """async (url) => {
  const response = await fetch(url, {credentials: 'same-origin'});
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return Array.from(new Uint8Array(await response.arrayBuffer()));
}"""
OFFICER = "Phạm Thị Thu Hà"


def _result_pdf() -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=14)
    pdf.add_page()
    pdf.cell(text="GIAY KHAI SINH - ban dien tu")
    return bytes(pdf.output())


def _qr_codes(pdf: bytes) -> list[str]:
    document = pdfium.PdfDocument(pdf)
    image = document[len(document) - 1].render(scale=3).to_pil()
    return [found.text for found in zxingcpp.read_barcodes(image)]


async def _submit(base: str, port: int) -> str:
    """The citizen's online birth registration (tests/e2e/test_back_office_run.py's way)."""
    async with httpx.AsyncClient(transport=LoopbackNames(), follow_redirects=False, timeout=30) as citizen:
        await _dev_login(citizen, base, port, CITIZEN)
        form = await citizen.get(f"{base}/procedures/1.001193/apply")
        token = _token(form.text)
        for document in ("to-khai", "giay-chung-sinh"):
            up = await citizen.post(
                f"{base}/procedures/1.001193/apply/files/{document}",
                data={"_csrf_token": token},
                files={"file": (f"{document}.pdf", PDF, "application/pdf")},
            )
            assert up.status_code == 303
        answers = {
            "child_full_name": "Nguyễn Minh Ký",
            "child_birth_date": "2026-11-20",
            "child_gender": "Nam",
            "birth_place": "Bệnh viện Phụ sản Hà Nội",
            "mother_full_name": "Nguyễn Thị Lan",
            "mother_personal_id": "001190001234",
            "has_father": "Không",
            "contact_phone": "0912345678",
        }
        ok = await citizen.post(f"{base}/procedures/1.001193/apply", data={"_csrf_token": token, **answers})
        assert ok.status_code == 303, ok.text[:1000]
        chosen = await choose_delivery(citizen, f"{base}/procedures/1.001193/apply/delivery", token)
        assert chosen.status_code == 303, chosen.text[:1000]
        review = await citizen.get(f"{base}/procedures/1.001193/apply/review")
        submit_token = re.search(r'name="token" value="([^"]+)"', review.text)
        assert submit_token is not None
        slip = await citizen.post(
            f"{base}/procedures/1.001193/apply/submit",
            data={"_csrf_token": _token(review.text), "token": submit_token.group(1), "declaration": "yes"},
        )
        assert slip.status_code == 303, slip.text[:1000]
        return slip.headers["location"].split("/")[3]


async def _sign_in(page: Page, base: str, name: str) -> None:
    await page.goto(base + "/")
    await page.get_by_role("link", name="Đăng nhập").click()
    await page.get_by_role("button", name=f"Đăng nhập với tư cách {name}").click()
    await page.wait_for_url(re.compile(re.escape(base) + r"/(officer|my)?.*$"))


async def _step(page: Page, code: str, kind: str) -> None:
    """Completes the open workflow step, which must be ``kind``."""
    current = page.get_by_test_id("current-step")
    assert await current.get_attribute("data-step-kind") == kind
    async with page.expect_navigation():
        await current.locator('button[data-step-action="advance"]').click()
    await page.wait_for_url(f"**/officer/dossiers/{code}?done=step_advance")


async def _action(page: Page, code: str, action: str) -> None:
    async with page.expect_navigation():
        await page.locator(f'button[data-action="{action}"]').click()
    await page.wait_for_url(f"**/officer/dossiers/{code}?done={action}")


async def test_a_leader_signs_a_result_the_citizen_downloads_and_anyone_verifies(tmp_path: Path) -> None:
    port = _free_port()
    server = _start(tmp_path / "data", port)
    base = f"http://hanoi.localhost:{port}"
    result = tmp_path / "giay-khai-sinh.pdf"
    result.write_bytes(_result_pdf())
    try:
        code = await _submit(base, port)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)

            async def new_page() -> Page:
                # Signing and checking signatures is CPU work, on a machine the suite shares: more
                # than Playwright's default 30 s per step is allowed.
                context = await browser.new_context(locale="vi-VN")
                context.set_default_timeout(120_000)
                context.set_default_navigation_timeout(120_000)
                return await context.new_page()

            # The officer of the ward: reception, the department's step, the specialist's work.
            officer = await new_page()
            await _sign_in(officer, base, OFFICER)
            await officer.goto(f"{base}/officer/dossiers/{code}")
            await _action(officer, code, "accept")
            await _step(officer, code, "department")
            await _action(officer, code, "start")
            await officer.locator("#result-file").set_input_files(str(result))
            async with officer.expect_navigation():
                await officer.locator(
                    f'form[action="/officer/dossiers/{code}/results"] button[type=submit]'
                ).click()
            await officer.wait_for_url(f"**/officer/dossiers/{code}?done=result")
            await _step(officer, code, "specialist")

            # As the ward's leader: the approval says it signs.
            approve = officer.get_by_test_id("current-step").locator('button[data-step-action="advance"]')
            assert (await approve.inner_text()).strip() == "Ký số và phê duyệt"
            await assert_accessible(officer, "leader's approval")
            await _step(officer, code, "leader")
            assert await officer.get_by_test_id("current-step").get_attribute("data-step-kind") == "return"

            # The citizen downloads the signed result from his document store.
            citizen = await new_page()
            await _sign_in(citizen, base, CITIZEN)
            await citizen.goto(f"{base}/my/documents")
            await assert_accessible(citizen, "document store")
            href = await citizen.get_by_role("link", name="giay-khai-sinh.pdf").first.get_attribute("href")
            assert href is not None and href.startswith("/my/files/")
            # Fetched by the page itself, with the browser's session (a PDF link may open in the
            # browser's viewer rather than download).
            signed = bytes(await citizen.evaluate(_FETCH_BYTES, href))
            assert signed.startswith(b"%PDF") and b"/ByteRange" in signed
            saved = tmp_path / "downloaded.pdf"
            saved.write_bytes(signed)

            # The QR code printed on it opens its verification page: valid, the ward's signature.
            (url,) = _qr_codes(signed)
            assert re.fullmatch(re.escape(base) + r"/xac-thuc/[A-Za-z0-9_-]{20}", url), url
            visitor = await new_page()
            await visitor.goto(url)
            verdict = visitor.get_by_test_id("verdict")
            assert await verdict.get_attribute("data-verdict") == "valid"
            details = await visitor.get_by_test_id("verify-details").inner_text()
            assert "Phường Hoàn Kiếm" in details and OFFICER in details
            assert "Trùng khớp với bản đã lưu" in details
            await assert_accessible(visitor, "verification page")

            # A copy with one byte changed, uploaded there: refused.
            edited = bytearray(signed)
            edited[signed.index(b"stream") + 10] ^= 0x01
            copy = tmp_path / "ban-sua.pdf"
            copy.write_bytes(bytes(edited))
            await visitor.locator("#file").set_input_files(str(copy))
            async with visitor.expect_navigation():
                await visitor.get_by_role("button", name="Kiểm tra").click()
            verdict = visitor.get_by_test_id("verdict")
            assert await verdict.get_attribute("data-verdict") == "modified"
            assert (
                "Đã bị thay đổi hoặc không có chữ ký"
                in await visitor.get_by_test_id("verify-details").inner_text()
            )
            # And the untouched copy, uploaded, matches the filed one.
            await visitor.locator("#file").set_input_files(str(saved))
            async with visitor.expect_navigation():
                await visitor.get_by_role("button", name="Kiểm tra").click()
            assert await visitor.get_by_test_id("verdict").get_attribute("data-verdict") == "valid"
            await browser.close()
    finally:
        _stop(server)
