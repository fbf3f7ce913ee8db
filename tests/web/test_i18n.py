"""Vietnamese by default, English on request: the language cookie, the switch, the catalog."""

from __future__ import annotations

import ast
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import IO, Any, cast

import httpx
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from litestar import Litestar

from motcua.core.theming import LANGUAGE_COOKIE, TRANSLATIONS_DIR
from tests.conftest import MakeTenant, asgi_transport, procedure

Client = httpx.AsyncClient

# babel's parse_mapping_cfg has no annotations (the rest of babel.messages does); this is the
# signature it has in practice: (pattern, method) pairs and per-pattern extractor options, as
# extract_from_dir takes them.
MethodMap = list[tuple[str, str]]
OptionsMap = dict[str, dict[str, Any]]
read_mapping_cfg = cast(Callable[[IO[str]], tuple[MethodMap, OptionsMap]], parse_mapping_cfg)


@pytest.fixture
async def browser(app: Litestar) -> AsyncIterator[Client]:
    """A client of its own, with absolute URLs, so cookies are kept per host as a browser keeps
    them (and the session-wide `client` never picks up a language cookie)."""
    async with httpx.AsyncClient(transport=asgi_transport(app), follow_redirects=False) as c:
        yield c


def english_catalog() -> Catalog:
    with (TRANSLATIONS_DIR / "en" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale="en")


def _html_lang(html: str) -> str:
    match = re.search(r'<html lang="(\w+)">', html)
    assert match, html[:200]
    return match.group(1)


async def test_pages_are_vietnamese_by_default(client: Client, make_tenant: MakeTenant) -> None:
    tenant = make_tenant(procedures=[procedure("1.001193", "Đăng ký khai sinh")])
    html = (await client.get("/", headers={"host": f"{tenant.slug}.localhost"})).text
    assert _html_lang(html) == "vi"
    assert "<h1>Dịch vụ công trực tuyến</h1>" in html
    assert "Đăng nhập" in html
    assert "Online public services" not in html
    # An English visitor's browser asking for English changes nothing: Vietnamese stays the default.
    asked = await client.get("/", headers={"host": f"{tenant.slug}.localhost", "accept-language": "en"})
    assert _html_lang(asked.text) == "vi"
    assert '<a href="/lang/en?next=/" hreflang="en" lang="en">English</a>' in html


async def test_switching_to_english_and_back(browser: Client, make_tenant: MakeTenant) -> None:
    tenant = make_tenant(
        name="Tỉnh Song Ngữ",
        procedures=[procedure("1.001193", "Đăng ký khai sinh", processing_days=3)],
    )
    other = make_tenant()
    site = f"http://{tenant.slug}.localhost"

    switch = await browser.get(f"{site}/lang/en", params={"next": "/procedures"})
    assert switch.status_code in (302, 303)
    assert switch.headers["location"] == "/procedures"
    cookie = switch.headers["set-cookie"]
    assert cookie.startswith(f"{LANGUAGE_COOKIE}=en;")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"path", "max-age", "samesite", "httponly"} <= attributes
    assert "domain" not in attributes  # host-only: one portal's choice is not another's
    assert "max-age=31536000" in cookie.lower() and "samesite=lax" in cookie.lower()

    home = await browser.get(f"{site}/")
    assert _html_lang(home.text) == "en"
    assert "<h1>Online public services</h1>" in home.text
    assert ">Log in</a>" in home.text
    assert "Fields (1 procedure)" in home.text
    assert "3 working days" in home.text
    # Data stays Vietnamese; legal labels keep their Vietnamese text with the English beside it.
    assert '<a href="/procedures/1.001193">Đăng ký khai sinh</a>' in home.text
    assert "Tỉnh Song Ngữ" in home.text
    assert "Toàn trình (Fully online)" in home.text
    assert "Dịch vụ công trực tuyến" not in home.text
    assert '<a href="/lang/vi?next=/" hreflang="vi" lang="vi">Tiếng Việt</a>' in home.text

    search = await browser.get(f"{site}/procedures", params={"q": "khai sinh"})
    assert "1 result for “khai sinh”" in search.text
    assert 'href="/lang/vi?next=/procedures%3Fq%3Dkhai%2Bsinh"' in search.text  # back to the same search

    assert _html_lang((await browser.get(f"http://{other.slug}.localhost/")).text) == "vi"

    back = await browser.get(f"{site}/lang/vi", params={"next": "/"})
    assert back.headers["location"] == "/"
    again = await browser.get(f"{site}/")
    assert _html_lang(again.text) == "vi"
    assert "<h1>Dịch vụ công trực tuyến</h1>" in again.text


@pytest.mark.parametrize(
    "next_path",
    ["//evil.example", "https://evil.example/", "/\\evil.example", "http:/evil.example", "", None],
)
async def test_switch_goes_back_only_to_a_path_on_this_host(
    browser: Client, make_tenant: MakeTenant, next_path: str | None
) -> None:
    tenant = make_tenant()
    params = {} if next_path is None else {"next": next_path}
    response = await browser.get(f"http://{tenant.slug}.localhost/lang/en", params=params)
    assert response.status_code in (302, 303)
    assert response.headers["location"] == "/"


async def test_unknown_language_is_a_404(client: Client, make_tenant: MakeTenant) -> None:
    tenant = make_tenant()
    response = await client.get("/lang/fr?next=/", headers={"host": f"{tenant.slug}.localhost"})
    assert response.status_code == 404
    assert "Không tìm thấy trang" in response.text
    assert "set-cookie" not in response.headers or LANGUAGE_COOKIE not in response.headers["set-cookie"]


async def test_console_host_switches_language_too(browser: Client) -> None:
    console = "http://admin.localhost"
    first = await browser.get(f"{console}/")
    assert _html_lang(first.text) == "vi"
    assert "Bảng điều khiển trung tâm" in first.text
    # The console's paths arrive prefixed with /console; the link and the way back don't show it.
    assert 'href="/lang/en?next=/"' in first.text
    switch = await browser.get(f"{console}/lang/en", params={"next": "/"})
    assert switch.status_code in (302, 303)
    assert switch.headers["location"] == "/"
    page = await browser.get(f"{console}/")
    assert _html_lang(page.text) == "en"
    assert "Central console" in page.text
    assert "Platform administration" in page.text


async def test_error_pages_follow_the_language(browser: Client, make_tenant: MakeTenant) -> None:
    tenant = make_tenant(name="Tỉnh Lạc Đường")
    site = f"http://{tenant.slug}.localhost"
    await browser.get(f"{site}/lang/en", params={"next": "/"})
    missing = await browser.get(f"{site}/khong-co-trang-nay")
    assert missing.status_code == 404
    assert "<h1>Page not found</h1>" in missing.text
    assert "The page you are looking for does not exist or has moved." in missing.text
    assert "Tỉnh Lạc Đường" in missing.text
    # Runtime text goes through _() as plain text: still escaped.
    code = await browser.get(f"{site}/procedures/<img src=x onerror=alert(1)>")
    assert code.status_code == 404
    assert "<img src=x" not in code.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in code.text


def test_english_catalog_translates_every_message() -> None:
    catalog = english_catalog()
    untranslated = [
        m.id for m in catalog if m.id and (not all(m.string) if isinstance(m.string, tuple) else not m.string)
    ]
    assert untranslated == []
    assert [m.id for m in catalog if m.id and m.fuzzy] == []  # fuzzy entries are not used at runtime
    # Placeholders (%(name)s) match between the Vietnamese msgid and the English text.
    assert [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()] == []


def test_catalog_has_every_text_the_templates_and_code_mark(project_root: Path) -> None:
    with (project_root / "babel.cfg").open() as cfg:
        method_map, options_map = read_mapping_cfg(cfg)
    extracted = {
        (message[0] if isinstance(message, tuple) else message, context)
        for _filename, _lineno, message, _comments, context in extract_from_dir(
            project_root, method_map, options_map
        )
    }
    assert ("Đăng nhập", None) in extracted  # the extraction itself works
    assert ("Mới đăng ký", None) in extracted  # ...including texts that Python hands to templates
    catalog = english_catalog()
    in_catalog = {(m.id[0] if isinstance(m.id, tuple) else m.id, m.context) for m in catalog if m.id}
    assert sorted(extracted - in_catalog, key=str) == [], "run `make messages` and translate the new texts"


# Errors whose f-string text is not for the portal's pages: command-line and log messages (their
# people-facing text is a separate translatable `message=`), and the API's problem details.
NOT_FOR_PAGES = {
    "src/motcua/payments/settings.py": "PaymentSettingsError",
    "src/motcua/integrations/auth.py": "ProblemError",
    "src/motcua/integrations/webhook_api.py": "ProblemError",
}
VIETNAMESE_LETTER = re.compile(r"[ăâđêôơưàáạảãằắặẳẵầấậẩẫèéẹẻẽềếệểễìíịỉĩòóọỏõồốộổỗờớợởỡùúụủũừứựửữỳýỵỷỹ]", re.I)


def test_no_error_is_a_vietnamese_f_string(project_root: Path) -> None:
    """An f-string cannot be translated (its text is made before anyone knows the reader's
    language): a Vietnamese message with values is a core.messages.Message instead."""
    found = []
    for path in sorted((project_root / "src" / "motcua").rglob("*.py")):
        relative = str(path.relative_to(project_root))
        if "/dev/" in relative:  # development stand-ins are not the product
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args or not isinstance(node.args[0], ast.JoinedStr):
                continue
            name = ast.unparse(node.func)
            text = "".join(str(v.value) for v in node.args[0].values if isinstance(v, ast.Constant))
            if (
                name.endswith("Error")
                and VIETNAMESE_LETTER.search(text)
                and NOT_FOR_PAGES.get(relative) != name
            ):
                found.append(f"{relative}:{node.lineno} {name}")
    assert found == []
