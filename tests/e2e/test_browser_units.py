"""The whole journey of a commune-level dossier through the units of Hà Nội on `make run`, in a real
browser (Debian's chromium, driven by Playwright), each person signed in through the development
e-ID provider in a browser context of their own:

- the administrator (Đặng Quốc Bảo) gives two people roles at /manage/roles and /manage/units:
  Trần Thị Bích Ngọc leads the Sở Tư pháp, Võ Đức Thắng is its specialist;
- the citizen (Nguyễn Văn An) applies for a birth registration, a commune-level procedure: the
  ward his e-ID address names (Phường Hoàn Kiếm) is preselected, and the code is the ward's;
- the ward's officer (Phạm Thị Thu Hà, reception and leader there) accepts it and transfers it
  to the Sở Tư pháp with a reason;
- the department's leader assigns the specialist, who prepares the result; the leader sends it
  back once with a reason, then approves (signing the result);
- the ward's desk takes the result back and delivers it;
- the history shows every step with people's names, never a personal ID: on the officer's
  workspace with the reasons typed, on the citizen's dossier page without them.

axe-core checks the pages of the way."""

from __future__ import annotations

import re
from pathlib import Path

from fpdf import FPDF
from playwright.async_api import Browser, FilePayload, Page, async_playwright

from motcua.dev.people import DEV_USERS
from tests.e2e.journeys.apply import apply_for_birth_registration
from tests.e2e.journeys.browser import (
    ADMIN,
    CHROMIUM,
    CHROMIUM_ARGS,
    CITIZEN,
    DESKTOP_VI,
    OFFICER,
    PDF,
    Findings,
    assert_accessible,
    new_page,
    running_product,
    sign_in,
)
from tests.e2e.journeys.officer import _done, _open, primary

LEADER = "Trần Thị Bích Ngọc"
SPECIALIST = "Võ Đức Thắng"
WARD = "Phường Hoàn Kiếm"
DEPARTMENT = "Sở Tư pháp"
TRANSFER_REASON = "Cha mẹ là người nước ngoài: thuộc thẩm quyền của Sở Tư pháp"
SEND_BACK_REASON = "Bổ sung căn cứ Điều 35 Luật Hộ tịch vào dự thảo"
IDS = re.compile(r"(?<!\d)\d{12}(?!\d)")


def _result() -> bytes:
    """The result the specialist drafts: a one-page PDF with its text (signed at approval)."""
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    pdf.cell(text="Giay khai sinh - ban du thao")
    return bytes(pdf.output())


def _personal_id(name: str) -> str:
    return next(p.personal_id for p in DEV_USERS if p.name == name)


async def _person(browser: Browser, base: str, name: str, findings: Findings) -> Page:
    """A browser context of the person's own, signed in through the development e-ID."""
    page = await new_page(browser, DESKTOP_VI, findings)
    await sign_in(page, base, name)
    return page


async def _give_roles(page: Page, base: str) -> None:
    """The administrator makes the two people officers of the portal, then gives each their role
    at the Sở Tư pháp."""
    for name in (LEADER, SPECIALIST):
        await page.goto(base + "/manage/roles")
        form = page.locator('form[action="/manage/roles"]').filter(has=page.locator("#personal_id"))
        await form.locator("#personal_id").fill(_personal_id(name))
        await form.locator("#role").select_option("officer")
        async with page.expect_navigation():
            await form.locator("button[type=submit]").click()
        assert "done=granted" in page.url, page.url
    await page.goto(base + "/manage/units")
    async with page.expect_navigation():
        await page.get_by_role("link", name=DEPARTMENT, exact=True).click()
    unit_url = page.url
    await assert_accessible(page, "manage: the department")
    for name, role in ((LEADER, "leader"), (SPECIALIST, "specialist")):
        await page.goto(unit_url)
        form = page.locator('form[action$="/staff"]').filter(has=page.locator("#full_name"))
        await form.locator("#full_name").fill(name)
        await form.locator("#personal_id").fill(_personal_id(name))
        await form.locator("#role").select_option(role)
        async with page.expect_navigation():
            await form.locator("button[type=submit]").click()
        await page.get_by_test_id("done").wait_for()
    staff = await page.locator("main table").inner_text()
    assert LEADER in staff and SPECIALIST in staff


async def _workspace(page: Page, base: str, code: str) -> None:
    await page.goto(f"{base}/officer/dossiers/{code}")
    await page.get_by_test_id("actions").wait_for()


async def _step(page: Page, code: str, verb: str) -> None:
    """One workflow action of the step panel (its form filled before), which must succeed."""
    async with page.expect_navigation():
        await page.locator(f'button[data-step-action="{verb}"]').click()
    await _done(page, code, f"step_{verb}")


async def _at_step(page: Page, kind: str, unit: str) -> None:
    current = page.get_by_test_id("current-step")
    assert await current.get_attribute("data-step-kind") == kind
    assert await page.get_by_test_id("step-unit").inner_text() == unit


def _history_lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


async def test_a_commune_dossier_goes_to_a_department_and_back_with_every_step_in_its_history(
    tmp_path: Path,
) -> None:
    upload = tmp_path / "to-khai.pdf"
    upload.write_bytes(PDF)
    findings = Findings()
    with running_product(tmp_path) as product:
        base = product.portal
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

            admin = await _person(browser, base, ADMIN, findings)
            await _give_roles(admin, base)

            citizen = await _person(browser, base, CITIZEN, findings)
            code = await apply_for_birth_registration(citizen, base, upload, "vi")
            # Received by the ward his e-ID address names: the ward's agency code.
            assert code.startswith("000.70.00.H26-"), code

            # The ward's desk accepts; the deciding step opens at the ward, whose leader (the same
            # officer) transfers it to the department.
            ward = await _person(browser, base, OFFICER, findings)
            await _workspace(ward, base, code)
            await primary(ward, code, "accept")
            await _at_step(ward, "department", WARD)
            await ward.locator('details[data-step-panel="transfer"] summary').click()
            await ward.locator("#transfer-unit").select_option(label=DEPARTMENT)
            await ward.locator("#transfer-reason").fill(TRANSFER_REASON)
            await _step(ward, code, "transfer")
            await assert_accessible(ward, "workspace: transferred")

            # The department's leader assigns the specialist (picked by name) and hands it on.
            leader = await _person(browser, base, LEADER, findings)
            await _workspace(leader, base, code)
            await _at_step(leader, "department", DEPARTMENT)
            await _open(leader, "assign")
            await leader.get_by_test_id("officer-picker").select_option(label=SPECIALIST)
            async with leader.expect_navigation():
                await leader.locator('details[data-action-panel="assign"] button[type=submit]').click()
            await _done(leader, code, "assign")
            await _step(leader, code, "advance")

            # The specialist starts, prepares the result and submits it to the leader.
            specialist = await _person(browser, base, SPECIALIST, findings)
            await _workspace(specialist, base, code)
            await _at_step(specialist, "specialist", DEPARTMENT)
            await primary(specialist, code, "start")
            result: FilePayload = {
                "name": "giay-khai-sinh.pdf",
                "mimeType": "application/pdf",
                "buffer": _result(),
            }
            await specialist.locator("#result-file").set_input_files(files=[result])
            async with specialist.expect_navigation():
                await specialist.locator(
                    f'form[action="/officer/dossiers/{code}/results"] button[type=submit]'
                ).click()
            await _done(specialist, code, "result")
            await _step(specialist, code, "advance")

            # The leader sends it back once, with a reason; the specialist submits it again.
            await _workspace(leader, base, code)
            await _at_step(leader, "leader", DEPARTMENT)
            await assert_accessible(leader, "workspace: the leader's approval")
            await leader.locator('details[data-step-panel="send_back"] summary').click()
            await leader.locator("#send-back-reason").fill(SEND_BACK_REASON)
            await _step(leader, code, "send_back")
            await _workspace(specialist, base, code)
            await _at_step(specialist, "specialist", DEPARTMENT)
            await _step(specialist, code, "advance")
            # Approved (the result signed with it): back to the ward's desk.
            await _workspace(leader, base, code)
            await _step(leader, code, "advance")

            # The ward's desk takes the result back, finishes and delivers.
            await _workspace(ward, base, code)
            await _at_step(ward, "return", WARD)
            await _step(ward, code, "advance")
            await primary(ward, code, "finish")
            await _at_step(ward, "delivery", WARD)
            await _step(ward, code, "advance")
            await primary(ward, code, "deliver")
            assert await ward.get_by_test_id("current-step").count() == 0, "the workflow is over"
            await assert_accessible(ward, "workspace: delivered")

            # The officer's history: every step by unit and name, with the reasons typed.
            history = await ward.get_by_test_id("history").inner_text()
            lines = _history_lines(history)
            staff_steps = [
                f"Hồ sơ được chuyển đến {WARD} để giải quyết — Cán bộ {OFFICER}",
                f"Hồ sơ được chuyển từ {WARD} đến {DEPARTMENT} để giải quyết — Cán bộ {OFFICER}: "
                + TRANSFER_REASON,
                f"{DEPARTMENT} đã giao chuyên viên thẩm định hồ sơ — Cán bộ {LEADER}",
                f"Chuyên viên {DEPARTMENT} đã trình lãnh đạo phê duyệt kết quả — Cán bộ {SPECIALIST}",
                f"Lãnh đạo {DEPARTMENT} đã chuyển lại hồ sơ cho chuyên viên để hoàn thiện — Cán bộ {LEADER}: "
                + SEND_BACK_REASON,
                f"Lãnh đạo {DEPARTMENT} đã phê duyệt kết quả — Cán bộ {LEADER}",
                f"Kết quả giải quyết đã được chuyển về {WARD} — Cán bộ {OFFICER}",
                f"{WARD} đã hoàn thành bước trả kết quả — Cán bộ {OFFICER}",
            ]
            for expected in staff_steps:
                assert any(line.endswith(expected) for line in lines), (expected, lines)
            assert sum("đã trình lãnh đạo phê duyệt kết quả" in line for line in lines) == 2
            for expected in ("Đã tiếp nhận hồ sơ", "Đã có kết quả giải quyết", "Đã trả kết quả"):
                assert any(expected in line for line in lines), (expected, lines)
            assert not IDS.search(history), history
            # The internal journey beside it: nine stays, each closed by someone named.
            journey = await ward.get_by_test_id("journey").inner_text()
            assert await ward.get_by_test_id("journey-row").count() == 9
            for name in (OFFICER, LEADER, SPECIALIST):
                assert name in journey
            assert not IDS.search(journey)

            # The citizen's dossier page: the same steps by unit and name, no internal reason.
            await citizen.goto(f"{base}/my/dossiers/{code}")
            await assert_accessible(citizen, "the citizen's dossier, delivered")
            mine = await citizen.get_by_test_id("history").inner_text()
            seen = _history_lines(mine)
            for expected in staff_steps:
                public = expected.split(": ", 1)[0]  # without what the officer typed
                assert any(line.endswith(public) for line in seen), (public, seen)
            assert TRANSFER_REASON not in mine and SEND_BACK_REASON not in mine
            assert not IDS.search(mine), mine
            await browser.close()
    assert findings.csp == []
