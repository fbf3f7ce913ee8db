"""The console, the /manage pages and the officer pages read in English when English is chosen:
crawled by their own links, no page shows a Vietnamese word outside the data people typed
(tenant, procedure, people's and places' names) and the legal labels kept in Vietnamese with
their English beside them, nor a number written as a Python float ("24.0")."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
from sqlalchemy import Engine, text

from motcua.admin.localities import ministries, provinces
from motcua.catalog.services import get_procedure
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.theming import LANGUAGE_COOKIE
from motcua.dossiers.intake import Applicant, Received, receive_dossier
from motcua.dossiers.models import Channel, DossierStatus
from tests.admin.conftest import Browser
from tests.backoffice.test_workspace import _act
from tests.conftest import MakeTenant, procedure

# A word with a Vietnamese letter (ă â đ ê ô ơ ư or a tone mark).
VIETNAMESE = re.compile(r"\w*[ăâđêôơưàáạảãằắặẳẵầấậẩẫèéẹẻẽềếệểễìíịỉĩòóọỏõồốộổỗờớợởỡùúụủũừứựửữỳýỵỷỹ]\w*", re.I)
# A number printed as Python writes a float ("24.0 working hours", "100.0%"), not as people do.
FLOAT_ZERO = re.compile(r"(?<![\d.,])\d+\.0(?![\d.])")
COPY = procedure("2.000001", "Cấp bản sao trích lục hộ tịch", agency_code="000.00.01.T01")
ADMIN, OFFICER, APPLICANT = "Trần Văn Quản", "Lê Thị Cán", "Phạm Văn Dân"
# Links not to follow: leaving the page's language or session, downloads, actions by GET.
SKIP = re.compile(
    r"^/(lang/|logout|login|account|static/|console/)|\.(csv|pdf|json|xlsx|svg|png|zip|tar\.gz)$"
)


class _Text(HTMLParser):
    """The text a person reads (and hears: labels, titles, placeholders), without scripts,
    styles, typed text and the parts marked lang="vi" (the link back to Vietnamese, texts kept
    as written), and the page's links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._skip: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        # A textarea holds what was typed (a form definition, an answer): data, not interface.
        if tag in ("script", "style", "textarea") or values.get("lang") == "vi":
            if tag not in ("br", "img", "input", "meta", "link"):
                self._skip.append(tag)
            return
        if tag == "a" and values.get("href"):
            self.links.append(str(values["href"]))
        if not self._skip:
            for name in ("aria-label", "title", "placeholder", "alt"):
                if values.get(name):
                    self.parts.append(str(values[name]))

    def handle_endtag(self, tag: str) -> None:
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _read(html: str) -> tuple[str, list[str]]:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split()), parser.links


def _leftovers(page_text: str, data: Iterable[str]) -> list[str]:
    """The Vietnamese words left once the data is taken out, each with the words around it."""
    for value in sorted(data, key=len, reverse=True):
        page_text = page_text.replace(value, " ")
    return [
        page_text[max(0, m.start() - 25) : m.end() + 25].strip()
        for pattern in (VIETNAMESE, FLOAT_ZERO)
        for m in pattern.finditer(page_text)
    ]


async def _crawl(
    browser: httpx.AsyncClient,
    seeds: list[str],
    prefixes: tuple[str, ...],
    data: set[str],
    *,
    avoid: re.Pattern[str] | None = None,
    limit: int = 60,
) -> dict[str, list[str]]:
    """Every page reachable from ``seeds`` by links under ``prefixes`` (and not matching
    ``avoid``): {path: the Vietnamese words left, in their context}."""
    found: dict[str, list[str]] = {}
    queue, seen = deque(seeds), {urlsplit(seed).path for seed in seeds}
    while queue and len(found) < limit:
        path = queue.popleft()
        response = await browser.get(path)
        if response.status_code != 200 or "text/html" not in response.headers.get("content-type", ""):
            # A link to nowhere is a fault of its own, not of the language.
            assert response.status_code in (200, 303), (path, response.status_code)
            continue
        page_text, links = _read(response.text)
        found[path] = _leftovers(page_text, data)
        for link in links:
            target = urlsplit(urljoin(path, link))
            if target.netloc or SKIP.search(target.path) or not target.path.startswith(prefixes):
                continue
            if avoid is not None and avoid.search(target.path):
                continue
            # One visit per page, with the query of the first link to it (some pages need one).
            if target.path not in seen:
                seen.add(target.path)
                queue.append(f"{target.path}?{target.query}" if target.query else target.path)
    return found


def _in_english(browser: httpx.AsyncClient) -> httpx.AsyncClient:
    host = str(browser.base_url.host)
    browser.cookies.set(LANGUAGE_COOKIE, "en", domain=host)
    return browser


def _kept_in_vietnamese() -> set[str]:
    """The legal labels every language shows in Vietnamese, followed by their English."""
    return {f"{status.label} (" for status in DossierStatus} | {"Toàn trình (", "Một phần ("}


def _every_tenant_name(engine: Engine) -> set[str]:
    # The console lists every tenant and every platform administrator of the (shared) test
    # database, whatever other test modules made before this one: their names are data.
    with engine.connect() as conn:
        tenants = set(conn.execute(text("SELECT name FROM platform.tenants")).scalars())
        admins = set(
            conn.execute(text("SELECT name FROM platform.platform_admins WHERE name IS NOT NULL")).scalars()
        )
        # What people typed and the console's audit shows as written: reasons (a suspension, an
        # archive) and the names of tenants since deleted.
        reasons = set(
            conn.execute(
                text(
                    "SELECT detail ->> 'reason' FROM platform.audit_log WHERE detail ? 'reason'"
                    " UNION SELECT detail ->> 'name' FROM platform.audit_log WHERE detail ? 'name'"
                    " UNION SELECT status_reason FROM platform.tenants WHERE status_reason IS NOT NULL"
                )
            ).scalars()
        )
        return tenants | admins | {r for r in reasons if r}


async def test_console_manage_and_officer_pages_read_in_english(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    tenant = make_tenant(name="Tỉnh Song Ngữ", procedures=[COPY])
    db = Database(live_settings.database_url or "", pool_size=1)
    try:
        async with db.tenant_session(tenant) as session:
            copy = await get_procedure(session, COPY["code"])
            assert copy is not None
            outcome = await receive_dossier(
                session,
                tenant,
                procedure=copy,
                applicant=Applicant(personal_id="001190005678", full_name=APPLICANT),
                data={},
                documents=[],
                channel=Channel.IN_PERSON,
                actor=Actor.operator("test"),
            )
            assert isinstance(outcome, Received), outcome
            code = outcome.dossier.code
    finally:
        await db.dispose()
    officer = _in_english(await signed_in(tenant, role="officer", name=OFFICER))
    assert (await _act(officer, code, "accept")).status_code == 303
    # A refusal built in Python (dossiers.lifecycle) reads in English too, the status's legal
    # label kept with its English beside it.
    again = await _act(officer, code, "accept")
    assert again.status_code == 409
    assert "You cannot accept the dossier while its status is “Được tiếp nhận (Accepted)”." in again.text
    # What the product writes in the history (the amount due, the payment and its receipt) is
    # read in English too (t0020): no allowance for it below.
    assert (await _act(officer, code, "request_payment", amount="16000")).status_code == 303
    workspace = await officer.get(f"/officer/dossiers/{code}")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', workspace.text)
    assert token is not None
    paid = await officer.post(
        f"/officer/dossiers/{code}/payments/counter", data={"_csrf_token": token.group(1), "method": "cash"}
    )
    assert paid.status_code == 303, paid.text
    admin = _in_english(await signed_in(tenant, role="tenant_admin", name=ADMIN))
    console = _in_english(await signed_in(None, name=ADMIN))

    data = {
        *_every_tenant_name(engine),
        *(locality.name for locality in (*provinces(), *ministries())),
        COPY["name"],
        COPY["field"],
        ADMIN,
        OFFICER,
        APPLICANT,
        "Tiếng Việt",
        # Legal references keep their official numbering in every language.
        "QĐ-TTg",
        "NĐ-CP",
        # Words English writes as they are: the currency's name in the labels of amount fields
        # ("Amount (đồng)") and the lunar new year. (The history's own words, amounts included,
        # are English: see the payment lines asserted below.)
        "đồng",
        "Tết",
        # Data the platform itself supplies: the development e-ID provider's name, the default
        # mail sender's, the unit every tenant starts with, the example of a portal's name.
        "Định danh điện tử (môi trường phát triển)",
        "Cổng dịch vụ công",
        "Trung tâm Phục vụ hành chính công",
        "Cổng Dịch vụ công tỉnh Cao Bằng",
        *_kept_in_vietnamese(),
    }
    pages = {
        # The console lists every tenant of the shared test database: only this test's is visited.
        **await _crawl(
            console, ["/"], ("/",), data, avoid=re.compile(rf"/tenants/(?!{tenant.slug}(/|$)|new$)")
        ),
        **{
            f"{tenant.slug}{path}": words
            for path, words in (
                await _crawl(
                    admin, ["/manage/settings", "/manage/catalog", "/manage/reports"], ("/manage",), data
                )
            ).items()
        },
        **{
            f"{tenant.slug}{path}": words
            for path, words in (
                await _crawl(officer, ["/officer", f"/officer/dossiers/{code}"], ("/officer",), data)
            ).items()
        },
    }
    assert len(pages) > 15, sorted(pages)
    untranslated = {path: " | ".join(dict.fromkeys(words)) for path, words in pages.items() if words}
    assert untranslated == {}, "\n".join(f"{path}: {words}" for path, words in sorted(untranslated.items()))
    history = (await officer.get(f"/officer/dossiers/{code}")).text
    assert "Amount to pay: 16,000 dong" in history and "(cash at the one-stop desk); receipt " in history
