"""Every page of the central console and of a tenant's /manage area, on `make run`, in a real
browser: each passes axe-core (WCAG 2.1 A and AA, serious and critical findings) in Vietnamese
and in English, with its form error summary too, breaks no rule of the Content-Security-Policy,
and in English shows no interface text left in Vietnamese (names of tenants, people and
procedures, and legal terms, stay Vietnamese by design)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.e2e.test_browser_journey import CHROMIUM_ARGS, assert_accessible
from tests.e2e.test_run import _free_port, _start, _stop

# Letters only Vietnamese uses on these pages (English interface text has none of them; the
# multiplication and division signs of Latin-1 are not letters).
VIETNAMESE = re.compile(r"[À-ÖØ-öø-ɏḀ-ỿ]")
# Vietnamese English uses as it is: the currency, the lunar new year, and the numbers of legal
# documents (Nghị định 42/2022/NĐ-CP is cited as "Decree 42/2022/NĐ-CP").
LOANWORDS = re.compile(r"\b(?:đồng|Tết)\b|\b\d+/\d{4}/[A-ZĐ]+(?:-[A-ZĐ]+)*")
# A raw code: an enum value, role code or job name (snake_case); a Stripe account (acct_…) is
# the value the administrator types and reads as such.
RAW_CODE = re.compile(r"\b(?!acct_)[a-z]+_[a-z_]+\b")
# ...and, on Vietnamese pages, a status or kind left in English.
RAW_WORD = re.compile(
    r"\b(?:active|suspended|archived|onboarding|queued|running|done|failed|pending|province|ministry)\b"
)
# Vietnamese names that are data, not interface, besides the demo data (_data_names): the
# settings of `make run` (the development e-ID provider, the platform's mail sender), the
# example of a portal name the onboarding form gives, and what these tests type.
OTHER_NAMES = [
    "Định danh điện tử (môi trường phát triển)",
    "Cổng dịch vụ công",
    "Cổng Dịch vụ công tỉnh Cao Bằng",
    "Sáp nhập đơn vị hành chính",
    "Ngày nghỉ riêng",
    # The API client `make run` registers for the national-portal stand-in.
    "Cổng Dịch vụ công quốc gia (môi trường phát triển)",
]

# Text nodes of the main content, outside what is not interface text: what the person typed,
# technical values shown as such (<code>), and whatever the page marks as Vietnamese (lang="vi").
_TEXTS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest('[lang="vi"], textarea, script, code, [hidden]')) continue;
    const text = node.textContent.trim();
    if (text) out.push(text);
  }
  return out;
}"""


@dataclass
class Run:
    port: int
    console: str
    portal: str
    # Vietnamese words that are data, not interface: names of tenants, people, procedures…
    names: list[str] = field(default_factory=list)


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    csp: list[str] = field(default_factory=list)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _data_names() -> list[str]:
    """The Vietnamese names the demo data puts on these pages (every text of the tenant files and
    their catalogue: names of portals, procedures, documents, fees, fields, laws…), the demo
    people and the localities, longest first (so a longer name goes before one inside it)."""
    from motcua.admin.localities import all_localities
    from motcua.dev.people import DEV_USERS

    root = Path(__file__).resolve().parents[2]
    names: set[str] = {person.name for person in DEV_USERS} | {unit.name for unit in all_localities()}
    for path in (root / "tenants").glob("**/*.toml"):
        names.update(_strings(tomllib.loads(path.read_text(encoding="utf-8"))))
    names.update(OTHER_NAMES)
    return sorted((n for n in names if VIETNAMESE.search(n)), key=len, reverse=True)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """One `motcua run` for every test of this module (starting it is most of the time)."""
    data = tmp_path_factory.mktemp("admin-pages")
    port = _free_port()
    # Danang is archived by the console test: it may be deleted at once.
    server = _start(data / "data", port, log=data / "run.log", env={"MOTCUA_TENANT_DELETE_GRACE_DAYS": "0"})
    try:
        yield Run(
            port,
            console=f"http://admin.localhost:{port}",
            portal=f"http://hanoi.localhost:{port}",
            names=_data_names(),
        )
    finally:
        _stop(server)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


async def _signed_in_page(browser: Browser, findings: Findings, base: str, sign_in_link: str) -> Page:
    context = await browser.new_context(locale="vi-VN")
    page = await context.new_page()
    page.on(
        "console",
        lambda message: (
            findings.csp.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    await page.goto(base + "/")
    await page.get_by_role("link", name=sign_in_link).first.click()
    await page.get_by_role("button", name="Đăng nhập với tư cách Đặng Quốc Bảo").click()
    await page.wait_for_url(base + "/**")
    return page


async def _check(page: Page, where: str, findings: Findings, run: Run, *, english: bool) -> None:
    """Whatever is wrong with the page on screen, added to the findings (one run shows all)."""
    try:
        await assert_accessible(page, where)
    except AssertionError as exc:
        findings.problems.append(str(exc).split("\n")[0])
    texts: list[str] = await page.evaluate(_TEXTS)
    codes = sorted({code for text in texts for code in RAW_CODE.findall(text)})
    if not english:
        codes += sorted({word for text in texts for word in RAW_WORD.findall(text)})
    if codes:
        findings.problems.append(f"{where}: raw codes {codes}")
    if english:
        leftovers = []
        for text in texts:
            if text in run.names:
                continue
            for name in run.names:
                # A one-word name ("Có", "Nam") is also a word of interface text: only whole.
                text = text.replace(name, "") if " " in name else text
            if VIETNAMESE.search(LOANWORDS.sub("", text)):
                leftovers.append(text)
        if leftovers:
            findings.problems.append(f"{where}: Vietnamese left in English {leftovers}")


async def _visit(
    page: Page, url: str, where: str, findings: Findings, run: Run, *, english: bool, status: int = 200
) -> None:
    response = await page.goto(url)
    assert response is not None
    if response.status != status:
        findings.problems.append(f"{where}: HTTP {response.status} for {url}")
    await _check(page, where, findings, run, english=english)


async def _submit(page: Page, action: str, **fields: str) -> int:
    """Posts the form whose action is ``action`` with ``fields`` typed in, past the browser's
    own checks (the server's error summary is what is under test); the response's status."""
    form = page.locator(f'form[action="{action}"]').first
    for name, value in fields.items():
        await form.locator(f'[name="{name}"]').fill(value)
    await form.evaluate("f => { f.noValidate = true; }")
    async with page.expect_navigation() as navigation:
        await form.locator(
            "button:not([type=button])"
        ).last.click()  # the form's own, after any "add one more"
    response = await navigation.value
    assert response is not None
    return response.status


async def _errors(
    page: Page,
    path: str,
    action: str,
    fields: dict[str, str],
    where: str,
    findings: Findings,
    run: Run,
    *,
    english: bool,
) -> None:
    """The form at ``path`` (a URL) sent wrong: refused (4xx) with its error summary, which
    passes the checks too."""
    await page.goto(path)
    status = await _submit(page, action, **fields)
    if not 400 <= status < 500 or not await page.locator('main [role="alert"]').count():
        findings.problems.append(f"{where}: no error summary (HTTP {status})")
    await _check(page, where, findings, run, english=english)


CONSOLE_PAGES = [
    ("/", "console home"),
    ("/?q=h%C3%A0&status=active&kind=province", "console home, filtered"),
    ("/tenants/hanoi", "tenant page"),
    ("/tenants/danang", "archived tenant page"),
    ("/tenants/hanoi/suspend", "suspend confirmation"),
    ("/tenants/new", "onboarding form"),
    ("/tenants/hanoi/settings", "settings summary"),
    ("/tenants/hanoi/settings/domains", "settings: domains"),
    ("/tenants/hanoi/settings/domains/remove?host=dichvucong.hanoi.gov.vn", "settings: domain removal"),
    ("/tenants/hanoi/settings/identity", "settings: e-ID provider"),
    ("/tenants/hanoi/settings/payments", "settings: payments"),
    ("/tenants/hanoi/settings/mail", "settings: mail"),
    ("/tenants/hanoi/settings/appearance", "settings: appearance"),
    ("/tenants/hanoi/settings/calendar", "settings: calendar"),
    ("/tenants/hanoi/settings/calendar/days/{day}/remove", "settings: calendar day removal"),
    ("/tenants/hanoi/exports", "exports, none yet"),
    ("/tenants/danang/exports", "exports"),
    ("/tenants/hanoi/archive", "archive confirmation"),
    ("/tenants/danang/archive", "archived"),
    ("/tenants/hanoi/delete", "delete page, not archived"),
    ("/tenants/danang/delete", "delete page"),
    ("/restore", "restore"),
    ("/audit", "audit"),
    ("/audit?tenant=hanoi&actor_kind=operator", "audit, filtered"),
    ("/admins", "platform administrators"),
]


async def _prepare_console(page: Page, run: Run) -> str:
    """What the console's pages show once used: an export and an archived tenant (danang), a
    day of hanoi's own calendar, a second platform administrator. Returns that day."""
    base = run.console
    await page.goto(base + "/tenants/danang/exports")
    await _submit(page, "/tenants/danang/exports")
    # The list reloads itself while the export runs (htmx).
    await page.locator("#exports a[download]").wait_for(timeout=120_000)
    await page.goto(base + "/tenants/danang/archive")
    await _submit(page, "/tenants/danang/archive", reason="Sáp nhập đơn vị hành chính")
    await page.goto(base + "/tenants/hanoi/settings/calendar")
    year = await page.locator("#day").get_attribute("min")
    assert year is not None
    # A weekday (a weekend day off would be refused) late in the first year the form takes.
    day = next(d for d in (date(int(year[:4]), 12, n) for n in range(21, 28)) if d.weekday() < 5).isoformat()
    await page.locator("#kind").check()
    await _submit(page, "/tenants/hanoi/settings/calendar/days", day=day, name="Ngày nghỉ riêng")
    await page.goto(base + "/admins")
    await _submit(page, "/admins", personal_id="001085012345")
    return day


async def _console_pages(page: Page, run: Run, findings: Findings, day: str, *, english: bool) -> None:
    lang = " (en)" if english else ""
    base = run.console
    for path, where in CONSOLE_PAGES:
        await _visit(page, base + path.format(day=day), where + lang, findings, run, english=english)
    await page.goto(base + "/admins")
    await page.locator('form[action="/admins/remove"] button').first.click()
    await page.wait_for_load_state()
    await _check(page, "administrator removal" + lang, findings, run, english=english)

    # A page with a form error summary in each family of pages.
    for path, action, fields, where in (
        ("/tenants/new", "/tenants/new", {}, "onboarding errors"),
        ("/tenants/hanoi/suspend", "/tenants/hanoi/suspend", {}, "suspend errors"),
        (
            "/tenants/hanoi/settings/domains",
            "/tenants/hanoi/settings/domains",
            {"host": "a b"},
            "domain errors",
        ),
        (
            "/tenants/hanoi/settings/mail",
            "/tenants/hanoi/settings/mail",
            {"address": "nobody"},
            "mail errors",
        ),
        (
            "/tenants/hanoi/settings/appearance",
            "/tenants/hanoi/settings/appearance/colours",
            {"primary": "red-ish"},
            "appearance errors",
        ),
        ("/tenants/hanoi/settings/calendar", "/tenants/hanoi/settings/calendar/days", {}, "calendar errors"),
        ("/tenants/hanoi/archive", "/tenants/hanoi/archive", {}, "archive errors"),
        ("/tenants/danang/delete", "/tenants/danang/delete", {"confirmation": "hanoi"}, "delete errors"),
        ("/restore", "/restore", {}, "restore errors"),
        ("/admins", "/admins", {"personal_id": "12ab"}, "administrator errors"),
    ):
        await _errors(page, base + path, action, fields, where + lang, findings, run, english=english)
    await _visit(
        page,
        base + "/audit?personal_id=abc",
        "audit errors" + lang,
        findings,
        run,
        english=english,
        status=400,
    )


NAVIGATION = [
    "/manage/roles",
    "/manage/units",
    "/manage/catalog",
    "/manage/payments",
    "/manage/jobs",
    "/manage/settings",
    "/manage/integrations",
    "/manage/reports",
]
MANAGE_PAGES = [
    ("/manage/roles", "roles"),
    ("/manage/units", "units"),
    ("/manage/units/1", "a unit (the service centre, the first unit seeded)"),
    ("/manage/catalog", "catalogue"),
    ("/manage/catalog/1.001193/workflow", "a procedure's workflow"),
    ("/manage/catalog?q=khai+sinh", "catalogue, searched"),
    ("/manage/catalog/new", "new procedure"),
    ("/manage/catalog/import", "catalogue import"),
    ("/manage/payments", "payments"),
    ("/manage/jobs", "failed jobs"),
    ("/manage/settings", "settings"),
    ("/manage/settings/mail", "settings: mail"),
    ("/manage/settings/appearance", "settings: appearance"),
    ("/manage/settings/calendar", "settings: calendar"),
    ("/manage/integrations", "connected systems"),
    ("/manage/integrations/new", "connected systems: new client"),
    ("/manage/integrations/webhooks", "connected systems: webhooks"),
]


async def _manage_pages(page: Page, run: Run, findings: Findings, *, english: bool) -> None:
    lang = " (en)" if english else ""
    base = run.portal
    for path, where in MANAGE_PAGES:
        await _visit(page, base + path, where + lang, findings, run, english=english)
        # The management navigation, the same on every page.
        links = await page.locator("nav.section-nav a").evaluate_all("links => links.map(a => a.pathname)")
        if links != NAVIGATION:
            findings.problems.append(f"{where + lang}: management navigation {links}")

    # One procedure's pages: its detail, edit form, form editor and publication confirmation.
    await page.goto(base + "/manage/catalog")
    href = await page.locator('main table a[href^="/manage/catalog/"]').first.get_attribute("href")
    assert href is not None
    for suffix, where in (("", "procedure"), ("/edit", "procedure edit"), ("/form", "form editor")):
        await _visit(page, base + href + suffix, where + lang, findings, run, english=english)
    await page.goto(base + href)
    confirm = page.locator('main a[href$="/publish"], main a[href$="/unpublish"]').first
    await confirm.click()
    await page.wait_for_load_state()
    await _check(page, "publication confirmation" + lang, findings, run, english=english)

    # The confirmation reached from a list, the import's preview, and the error summaries.
    await page.goto(base + "/manage/roles")
    await page.locator('main form[action="/manage/roles"]:has(input[value="revoke"]) button').first.click()
    await page.wait_for_load_state()
    await _check(page, "role revocation" + lang, findings, run, english=english)
    await page.goto(base + "/manage/catalog/import")
    await _submit(page, "/manage/catalog/import/shared")
    await _check(page, "catalogue import preview" + lang, findings, run, english=english)
    for path, action, fields, where in (
        ("/manage/roles", "/manage/roles", {"personal_id": "12ab"}, "roles errors"),
        ("/manage/catalog/new", "/manage/catalog/new", {}, "new procedure errors"),
        (href + "/edit", href + "/edit", {"name": ""}, "procedure edit errors"),
        (href + "/form", href + "/form", {"definition": "[{"}, "form editor errors"),
        ("/manage/catalog/import", "/manage/catalog/import/csv", {}, "catalogue import errors"),
        ("/manage/payments", "/manage/payments", {"stripe_account": "not an account"}, "payments errors"),
        ("/manage/settings/mail", "/manage/settings/mail", {"reply_to": "nobody"}, "mail errors"),
        (
            "/manage/settings/appearance",
            "/manage/settings/appearance/agency-code",
            {"agency_code": "?"},
            "appearance errors",
        ),
        ("/manage/settings/calendar", "/manage/settings/calendar/days", {}, "calendar errors"),
    ):
        await _errors(page, base + path, action, fields, where + lang, findings, run, english=english)


async def test_every_console_page_passes_axe_in_vietnamese_and_english(run: Run, browser: Browser) -> None:
    findings = Findings()
    page = await _signed_in_page(browser, findings, run.console, "Đăng nhập bằng định danh điện tử")
    day = await _prepare_console(page, run)
    await _console_pages(page, run, findings, day, english=False)
    await page.goto(run.console + "/lang/en?next=/")
    await _console_pages(page, run, findings, day, english=True)
    await page.context.close()
    assert findings.problems == [], "\n".join(findings.problems)
    assert findings.csp == []


async def test_every_manage_page_passes_axe_in_vietnamese_and_english(run: Run, browser: Browser) -> None:
    findings = Findings()
    page = await _signed_in_page(browser, findings, run.portal, "Đăng nhập")
    await _manage_pages(page, run, findings, english=False)
    await page.goto(run.portal + "/lang/en?next=/manage/roles")
    await _manage_pages(page, run, findings, english=True)
    await page.context.close()
    assert findings.problems == [], "\n".join(findings.problems)
    assert findings.csp == []
