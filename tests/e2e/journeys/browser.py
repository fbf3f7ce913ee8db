"""The browser side of every journey: the product started as `make run` starts it, Debian's
chromium, a context per person with a viewport and a language, the development e-ID sign-in, and
the checks made on every page a journey visits (axe-core, no sideways scroll on a phone, the
language chosen, no Content-Security-Policy violation)."""

from __future__ import annotations

import json
import re
import subprocess
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Browser, Page, Route, StorageState
from playwright.async_api import Error as PlaywrightError

from motcua.dev.people import DEV_USERS
from tests.e2e.test_run import _free_port, _start, _stop

ROOT = Path(__file__).resolve().parents[3]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# A real one-page PDF: results are signed, and the signer needs a page to put the QR code on.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>> endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>> endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>> endobj\nxref\n0 4\n0000000000 65535 f \n"
    b"0000000009 00000 n \n0000000053 00000 n \n0000000103 00000 n \ntrailer<</Size 4/Root 1 0 R>>\n"
    b"startxref\n167\n%%EOF\n"
)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

CITIZEN = "Nguyễn Văn An"
OFFICER = "Phạm Thị Thu Hà"
ADMIN = "Đặng Quốc Bảo"  # platform administrator, and administrator of the demo portals

# Letters only Vietnamese uses (English interface text has none of them).
VIETNAMESE = re.compile(r"[À-ÖØ-öø-ɏḀ-ỿ]")
# Vietnamese that English uses as it is: the currency, and the numbers of legal documents.
# The product's own pages (the portal and console hosts), not the stand-ins it sends people to:
# the development e-ID provider and the Stripe stand-in's checkout.
_PRODUCT = re.compile(r"^http://(?!eid\.)[a-z0-9-]+\.localhost:\d+/")
LOANWORDS = re.compile(r"\b(?:đồng|Tết)\b|\b\d+(?:/\d{4})?/[A-ZĐ]+(?:-[A-ZĐa-z]+)*")

# The navigation and the headings of a page, outside what is marked as Vietnamese (lang="vi",
# e.g. the "Tiếng Việt" of the language switch) and technical values (<code>).
_INTERFACE_TEXTS = """() => {
  const out = [];
  for (const el of document.querySelectorAll('nav, h1, h2, h3, caption, legend')) {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement;
      if (!parent || parent.closest('[lang="vi"], code, script, [hidden]')) continue;
      if (parent.closest('nav, h1, h2, h3, caption, legend') !== el) continue;  // once, by the innermost
      const text = node.textContent.replace(/\\s+/g, ' ').trim();
      if (text) out.push(text);
    }
  }
  return out;
}"""


# Whether the page scrolls sideways, and if so the deepest elements that stick out on the right.
_SIDEWAYS = """() => {
  const root = document.documentElement, width = root.clientWidth;
  if (root.scrollWidth <= width) return '';
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.right <= width + 0.5 || box.width === 0) continue;
    if ([...el.children].some(c => c.getBoundingClientRect().right > width + 0.5)) continue;
    const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
      + [...el.classList].map(c => '.' + c).join('');
    out.push(`${name} to ${Math.round(box.right)}px`);
  }
  return `${root.scrollWidth} > ${width} px: ${out.slice(0, 4).join(', ')}`;
}"""


@dataclass(frozen=True)
class Variant:
    """One cell of the matrix: a screen and a language."""

    width: int
    height: int
    lang: str

    @property
    def phone(self) -> bool:
        return self.width < 600

    @property
    def name(self) -> str:
        return f"{self.width}-{self.lang}"


DESKTOP_VI = Variant(1280, 800, "vi")
VARIANTS = [DESKTOP_VI, Variant(1280, 800, "en"), Variant(390, 844, "vi"), Variant(390, 844, "en")]


@dataclass
class Product:
    """A running `motcua run`: its process and the addresses of its hosts."""

    process: subprocess.Popen[str]
    port: int

    @property
    def portal(self) -> str:
        return f"http://hanoi.localhost:{self.port}"

    @property
    def console(self) -> str:
        return f"http://admin.localhost:{self.port}"


@contextmanager
def running_product(data: Path) -> Iterator[Product]:
    """The product as `make run` starts it (dev e-ID provider, Stripe stand-in, mail catcher),
    with sign-in and submission budgets wide enough for one address signing in a dozen times."""
    port = _free_port()
    process = _start(
        data / "data",
        port,
        log=data / "run.log",
        env={"MOTCUA_RATE_LIMITS": "login=10000,submit=10000,lookup=10000"},
    )
    try:
        yield Product(process, port)
    finally:
        _stop(process)


@dataclass
class Findings:
    """What is wrong on the pages seen, gathered so that one run shows all of it."""

    problems: list[str] = field(default_factory=list)
    csp: list[str] = field(default_factory=list)


async def new_page(
    browser: Browser, variant: Variant, findings: Findings, *, signed_in: StorageState | None = None
) -> Page:
    """A page in a fresh context (a person of their own) with the variant's screen, with the
    cookies of ``signed_in`` if given; whatever the Content-Security-Policy blocks is reported on
    the console and kept in ``findings``."""
    context = await browser.new_context(
        viewport={"width": variant.width, "height": variant.height},
        locale="vi-VN" if variant.lang == "vi" else "en-GB",
        accept_downloads=True,
        storage_state=signed_in,
    )
    # `make test` runs this beside the rest of the suite on two shared cores: a form post may
    # take longer than Playwright's 30 s default to come back.
    context.set_default_navigation_timeout(60_000)
    page = await context.new_page()
    page.on(
        "console",
        lambda message: (
            findings.csp.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    return page


async def choose_language(page: Page, base: str, lang: str) -> None:
    """The language chosen as a person does: the switch in the footer (a cookie per host)."""
    await page.goto(base + "/")
    if await page.get_attribute("html", "lang") != lang:
        async with page.expect_navigation():
            await page.locator(f'footer a[hreflang="{lang}"]').click()
        assert await page.get_attribute("html", "lang") == lang


async def follow_link(page: Page, href: str) -> None:
    """Follows the link to ``href`` a person sees, on a phone first opening the service
    navigation's menu if the link is folded inside it."""
    link = page.locator(f'a[href="{href}"]:visible').first
    if not await link.count():
        await page.locator('[aria-controls="service-nav-list"]:visible').click()
    async with page.expect_navigation():
        await link.click()


async def sign_in(page: Page, base: str, name: str) -> None:
    """Through the development e-ID provider's picker, by the person's button (its value is the
    person's subject, the same in every language)."""
    person = next(p for p in DEV_USERS if p.name == name)
    await page.goto(base + "/login")
    await page.locator(f'button[name="user"][value="{person.sub}"]').click()
    await page.wait_for_url(base + "/**")
    await page.wait_for_load_state()


async def assert_accessible(page: Page, where: str) -> None:
    """No serious or critical axe-core finding of WCAG 2.0/2.1 A and AA on the page."""
    for attempt in (1, 2):
        try:
            result = await _axe(page)
            break
        except PlaywrightError:
            # Called just after a click that navigates: the page went away under axe; once more
            # on the page that replaced it.
            if attempt == 2:
                raise
            await page.wait_for_load_state()
    serious = [v for v in result if v["impact"] in ("serious", "critical")]
    assert serious == [], f"{where}: {json.dumps(serious, ensure_ascii=False)}"


async def _axe(page: Page) -> list[dict[str, Any]]:
    await page.wait_for_load_state()
    # Through the DevTools protocol rather than add_script_tag: that adds an inline <script>,
    # which the portal's Content-Security-Policy (rightly) refuses to run.
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result: list[dict[str, Any]] = await page.evaluate(
        "async () => { const r = await axe.run(document,"
        " {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'], resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target)})); }"
    )
    return result


# Each page of the product, as the browser has it once loaded, handed to the test (the checks
# run later on a copy, so that a journey written elsewhere needs to know nothing about them).
_SNAPSHOT = """
if (window.top === window) {
  window.addEventListener('load', () => {
    window.motcuaPageLoaded(location.href, '<!doctype html>' + document.documentElement.outerHTML);
  });
}
"""


def _page_of(url: str) -> str:
    """The page an address shows, whatever one-time message it carries (the workspace's
    ``?done=accept`` is the workspace): each is checked once unless a journey asks again."""
    return re.sub(r"[?&]done=[a-z_]+$", "", url.split("#")[0])


@dataclass
class Checker:
    """The checks made on every page a journey visits, in one variant; ``names`` are the
    Vietnamese words that are data, not interface (people, portals, procedures, what was typed).

    A journey calls ``check`` where it wants a page checked as it is at that moment (after an
    htmx swap, say); every other page it loads is kept as loaded (``watch``) and checked by
    ``check_the_rest`` on a copy served from memory with the product's own stylesheets."""

    variant: Variant
    findings: Findings
    names: list[str]
    seen: set[str] = field(default_factory=set)  # the addresses checked
    loaded: list[tuple[str, str]] = field(default_factory=list)  # (address, HTML) of the rest
    # `make screenshots`: a full-page PNG of every page checked goes there (and the checks
    # themselves are left to the tests).
    shots: Path | None = None
    taken: int = 0

    async def watch(self, page: Page) -> None:
        def loaded(source: object, url: str, html: str) -> None:
            if _PRODUCT.match(url):
                self.loaded.append((url.split("#")[0], html))

        await page.context.expose_binding("motcuaPageLoaded", loaded)
        await page.context.add_init_script(_SNAPSHOT)

    async def check(self, page: Page, where: str) -> None:
        """``where``: what the page is, for the findings and the screenshot's name ("": the
        page's path says it)."""
        await page.wait_for_load_state()
        self.seen.add(_page_of(page.url))
        if self.shots is not None:
            await self._screenshot(page, where)
            return
        where = f"{self.variant.name} {where or 'page'} ({page.url})"
        try:
            await assert_accessible(page, where)
        except AssertionError as exc:
            self.findings.problems.append(str(exc).split("\n")[0])
        if self.variant.phone:
            wide = await page.evaluate(_SIDEWAYS)
            if wide:
                self.findings.problems.append(f"{where}: scrolls sideways ({wide})")
        lang = await page.get_attribute("html", "lang")
        if lang != self.variant.lang:
            self.findings.problems.append(f"{where}: <html lang={lang!r}>")
        if self.variant.lang == "en":
            left = [text for text in await page.evaluate(_INTERFACE_TEXTS) if self._vietnamese(text)]
            if left:
                self.findings.problems.append(f"{where}: Vietnamese in English navigation or headings {left}")

    async def check_the_rest(self, browser: Browser) -> None:
        """Every page loaded and not checked yet, as it was when loaded: served from memory to a
        page of the same size, with the product's stylesheets, scripts and images but no other
        request (an htmx call would run without the person's cookies)."""
        context = await browser.new_context(
            viewport={"width": self.variant.width, "height": self.variant.height}
        )
        page = await context.new_page()
        current: dict[str, str] = {}

        async def serve(route: Route) -> None:
            request = route.request
            if request.url.split("#")[0] == current.get("url"):
                await route.fulfill(body=current["html"], content_type="text/html; charset=utf-8")
            elif request.resource_type in ("stylesheet", "script", "image", "font"):
                await route.continue_()
            else:
                await route.abort()

        await page.route("**/*", serve)
        for url, html in self.loaded:
            if _page_of(url) in self.seen:
                continue
            current.update(url=url, html=html)
            await page.goto(url)
            await self.check(page, "")
        self.loaded.clear()
        await context.close()

    async def _screenshot(self, page: Page, where: str) -> None:
        assert self.shots is not None
        self.taken += 1
        label = where or urlsplit(page.url).path.strip("/") or "home"
        slug = re.sub(
            r"[^a-z0-9]+",
            "-",
            unicodedata.normalize("NFKD", label.lower()).encode("ascii", "ignore").decode(),
        )
        self.shots.mkdir(parents=True, exist_ok=True)
        await page.screenshot(
            path=self.shots / f"{self.taken:02d}-{slug.strip('-')[:60]}.png", full_page=True
        )

    def _vietnamese(self, text: str) -> bool:
        if text in self.names:
            return False
        for name in self.names:
            # A one-word name ("Có", "Nam") is also a word of interface text: only whole.
            text = text.replace(name, "") if " " in name else text
        return bool(VIETNAMESE.search(LOANWORDS.sub("", text)))

    async def visit(self, page: Page, url: str, where: str) -> None:
        response = await page.goto(url)
        if response is None or response.status != 200:
            self.findings.problems.append(f"{where}: HTTP {response and response.status} for {url}")
        await self.check(page, where)
