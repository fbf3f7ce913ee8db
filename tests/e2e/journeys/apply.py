"""The citizen applies for a birth registration in a browser, through the task list: the
procedure page's "Nộp hồ sơ trực tuyến", the applicant, the answers, the documents, how to
receive the result, check and submit, the confirmation. By roles and labels in the page's
language; by test id only where the page has no words of its own to find (the catalogue's
fields are found by their ids: their labels are the catalogue's data, not the interface's)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Page, expect

PROCEDURE = "1.001193"
# The interface's words each step is found by, in each language.
WORDS = {
    "vi": {
        "apply": "Nộp hồ sơ trực tuyến",
        "continue": "Tiếp tục",
        "choose": "Chọn tệp",
        "upload": "Tải lên",
        "online": "Nhận bản điện tử trên Cổng dịch vụ công",
        "declaration": "Tôi xin cam đoan",
        "submit": "Nộp hồ sơ",
        "done": "Nộp hồ sơ thành công",
    },
    "en": {
        "apply": "Apply online",
        "continue": "Continue",
        "choose": "Choose a file",
        "upload": "Upload",
        "online": "Receive it electronically on the public service portal",
        "declaration": "I declare that",
        "submit": "Submit application",
        "done": "Application submitted",
    },
}
ANSWERS = {
    "child_full_name": "Nguyễn Minh Khôi",
    "child_birth_date": "2026-11-20",
    "birth_place": "Bệnh viện Phụ sản Hà Nội",
    "mother_full_name": "Trần Thị Hoa",
    "mother_personal_id": "001190012345",
}
CHOICES = {"child_gender": "Nam", "has_father": "Không"}


async def _go_on(page: Page, name: str) -> None:
    async with page.expect_navigation():
        await page.get_by_role("button", name=name, exact=True).click()


Check = Callable[[Page, str], Awaitable[None]]


async def _nothing(page: Page, where: str) -> None:
    return None


async def apply_for_birth_registration(
    page: Page, base: str, upload: Path, lang: str, *, check: Check = _nothing
) -> str:
    """Walk the whole application as the signed-in citizen and return the dossier code;
    ``check`` is called on each page of it once loaded (an accessibility check, a screenshot)."""
    words = WORDS[lang]
    if not page.url.startswith(f"{base}/procedures/{PROCEDURE}"):
        await page.goto(f"{base}/procedures/{PROCEDURE}")
    await page.get_by_role("link", name=words["apply"]).click()
    await page.wait_for_url(f"**/procedures/{PROCEDURE}/apply")

    # The task list leads to the first step to do: the answers (the applicant comes from the e-ID).
    await expect(page.get_by_test_id("task-list")).to_be_visible()
    await check(page, "apply: task list")
    await page.get_by_role("link", name=words["continue"], exact=True).click()
    await page.wait_for_url("**/apply/answers")
    # The e-ID fills in only the applicant's own answers: he is the father, not the mother.
    await expect(page.locator("#mother_full_name")).to_have_value("")
    await check(page, "apply: answers")
    for name, value in ANSWERS.items():
        await page.locator(f"#{name}").fill(value)
    for name, value in CHOICES.items():
        await page.locator(f"#{name}").select_option(value)
    await _go_on(page, words["continue"])
    await page.wait_for_url("**/apply/documents")
    await check(page, "apply: documents")

    for document in ("to-khai", "giay-chung-sinh"):
        card = page.get_by_test_id(f"document-{document}")
        await card.get_by_label(words["choose"]).set_input_files(str(upload))
        async with page.expect_navigation():
            await card.get_by_role("button", name=words["upload"]).click()
        await expect(page.get_by_test_id(f"uploaded-{document}")).to_contain_text(upload.name)
    await check(page, "apply: documents uploaded")
    await _go_on(page, words["continue"])
    await page.wait_for_url("**/apply/delivery")
    await check(page, "apply: delivery")

    await page.get_by_label(words["online"]).check()
    await _go_on(page, words["continue"])
    await page.wait_for_url("**/apply/review")

    await expect(page.get_by_test_id("check-answers")).to_contain_text(ANSWERS["child_full_name"])
    await check(page, "apply: check answers")
    await page.get_by_label(words["declaration"]).check()
    async with page.expect_navigation():
        await page.get_by_role("button", name=words["submit"], exact=True).click()
    await page.wait_for_url("**/slip?moi=1")
    await expect(page.get_by_role("heading", level=1)).to_have_text(words["done"])
    await check(page, "apply: confirmation")
    return (await page.get_by_test_id("confirmation-code").inner_text()).strip()
