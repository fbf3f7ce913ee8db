"""Every page's frame (issue 14): the service navigation by role with the current section marked,
the dossier count kept in the session, the footer with the portal's contact from its tenant file,
the privacy notice and accessibility statement in both languages, the phase banner outside
production, the home sections a theme chooses, and officers landing on their queue after login."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from litestar import Litestar
from sqlalchemy import Engine, select, update

from motcua.core import pages
from motcua.core.audit import Actor
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.core.theming import Themes
from motcua.identity.schemas import RoleGrantCreate
from motcua.identity.services import grant_role_sync
from motcua.identity.sessions import SESSION_COOKIE, SessionStore, UserSession
from motcua.tenancy import events
from motcua.tenancy.models import TenantRecord
from tests.conftest import MakeTenant, asgi_transport
from tests.dossiers import conftest as dossiers_conftest
from tests.dossiers.conftest import BIRTH, SignIn
from tests.dossiers.test_journey import CODE, _prepare
from tests.identity.conftest import use_provider
from tests.identity.rogue_provider import PERSON, RogueProvider

Client = httpx.AsyncClient
# The citizens' sign-in of tests/dossiers (a real citizen row and session), as a fixture here.
citizen_sign_in = dossiers_conftest.sign_in

TENANT_FILE = """
name = "Cổng Dịch vụ công Tỉnh Khung Trang"
kind = "province"

[contact]
agency = "Trung tâm Phục vụ hành chính công Tỉnh Khung Trang"
address = "Số 9 đường Thử Nghiệm, phường Trung Tâm"
hotline = "1800 1234"
email = "motcua@khungtrang.example.vn"
unknown = "never shown"

[theme]
name = "default"
primary = "#9b1c1c"
accent = "#f2c14e"
home_sections = ["statistics", "search", "news", "nonsense"]
news = [{ title = "Bộ phận Một cửa làm việc sáng thứ Bảy", date = "2026-11-28" }]

[[procedures]]
code = "1.001193"
name = "Đăng ký khai sinh"
field = "Hộ tịch"
agency = "UBND cấp xã"
level = "full"
processing_days = 1
"""


@pytest.fixture(scope="module")
def portal(engine: Engine, live_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Tenant:
    """One portal for the module, onboarded from a tenant file as `make run` does."""
    from motcua.admin.services import onboard_tenant, spec_from_file

    path: Path = tmp_path_factory.mktemp("tenants") / "khungtrang.toml"
    path.write_text(TENANT_FILE, encoding="utf-8")
    spec = spec_from_file(path, slug=f"chrome-{uuid.uuid4().hex[:6]}")
    return onboard_tenant(engine, live_settings, spec, actor=Actor.operator("test"))


@pytest.fixture
async def store(live_settings: Settings) -> AsyncIterator[SessionStore]:
    redis_client = aioredis.Redis.from_url(live_settings.redis_url or "")
    yield SessionStore(
        redis_client,
        idle_seconds=live_settings.session_idle_seconds,
        absolute_seconds=live_settings.session_absolute_seconds,
    )
    await redis_client.aclose()


@pytest.fixture
async def browsers(app: Litestar) -> AsyncIterator[list[Client]]:
    opened: list[Client] = []
    yield opened
    for browser in opened:
        await browser.aclose()


async def _browser(
    app: Litestar,
    opened: list[Client],
    store: SessionStore,
    host: str,
    site: str,
    roles: list[str] | None,
    *,
    dossier_count: int | None = None,
    lang: str | None = None,
) -> Client:
    """A browser on ``host``, signed in with ``roles`` (None: anonymous), as the login makes it."""
    browser = httpx.AsyncClient(
        transport=asgi_transport(app), base_url=f"http://{host}", follow_redirects=False
    )
    opened.append(browser)
    if lang:
        browser.cookies.set("motcua_lang", lang, domain=host)
    if roles is not None:
        sid = await store.create(
            UserSession(
                site=site,
                issuer="https://eid.test",
                subject=f"sub-{uuid.uuid4().hex[:8]}",
                personal_id="001190009999",
                name="Đỗ Thị Khung",
                roles=roles,
                citizen_id=None if site == "console" else 1,
                roles_version=await store.roles_version(site),
                dossier_count=dossier_count,
            )
        )
        browser.cookies.set(SESSION_COOKIE, sid, domain=host)
    return browser


def _nav(html: str) -> str:
    found = re.search(r'<nav class="service-nav".*?</nav>', html, re.S)
    assert found is not None, "no service navigation"
    return found.group(0)


def _links(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)"', _nav(html))


def _current(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<a href="([^"]+)" aria-current="(\w+)"', _nav(html))


CITIZEN_LINKS = ["/procedures", "/tracking", "/my/dossiers", "/my/documents", "/feedback", "/help"]


async def test_service_navigation_by_role_with_the_current_section(
    app: Litestar, portal: Tenant, store: SessionStore, browsers: list[Client]
) -> None:
    host, site = f"{portal.slug}.localhost", portal.slug
    anonymous = await _browser(app, browsers, store, host, site, None)
    citizen = await _browser(app, browsers, store, host, site, ["citizen"], dossier_count=3)
    officer = await _browser(app, browsers, store, host, site, ["citizen", "officer"])
    admin = await _browser(app, browsers, store, host, site, ["citizen", "tenant_admin"])

    home = (await anonymous.get("/")).text
    assert _links(home) == CITIZEN_LINKS
    assert _current(home) == [("/procedures", "true")]  # home is the procedures section
    assert 'class="service-nav-toggle"' in home and "js/nav.js" in home  # the mobile "Menu"
    assert 'data-testid="dossier-count"' not in home

    tracking = (await citizen.get("/tracking")).text
    assert _links(tracking) == CITIZEN_LINKS
    assert _current(tracking) == [("/tracking", "page")]
    # The count comes from the session, not from a query.
    assert re.search(r'Hồ sơ của tôi <span class="nav-count" data-testid="dossier-count">3</span>', tracking)
    # The navigation is rendered once per tenant, language and state (core.fragments): the same
    # page read right after someone else's visit is still the reader's own.
    after = (await anonymous.get("/tracking")).text
    assert 'data-testid="dossier-count"' not in after and _links(after) == CITIZEN_LINKS
    staff_view = (await officer.get("/tracking")).text
    assert _links(staff_view) == [*CITIZEN_LINKS, "/officer", "/officer/receive"]
    assert _links((await citizen.get("/tracking")).text) == CITIZEN_LINKS

    queue = await officer.get("/officer")
    assert queue.status_code == 200
    assert _links(queue.text) == [*CITIZEN_LINKS, "/officer", "/officer/receive"]
    assert _current(queue.text) == [("/officer", "page")]
    desk = (await officer.get("/officer/receive")).text
    assert _current(desk) == [("/officer/receive", "page")]

    manage = await admin.get("/manage/roles")
    assert manage.status_code == 200
    assert _links(manage.text) == [*CITIZEN_LINKS, "/manage/roles"]
    assert _current(manage.text) == [("/manage/roles", "page")]
    settings = (await admin.get("/manage/settings")).text
    assert _current(settings) == [("/manage/roles", "true")]
    # A citizen sees no staff link, and English names them in English.
    english = await _browser(app, browsers, store, host, site, ["citizen"], lang="en")
    nav = _nav((await english.get("/help")).text)
    for words in (
        "Administrative procedures",
        "My applications",
        "Document store",
        "Complaints and suggestions",
        "Help",
    ):
        assert words in nav, words


async def test_the_dossier_count_is_refreshed_when_the_list_is_viewed(
    app: Litestar, portal: Tenant, store: SessionStore, browsers: list[Client]
) -> None:
    host = f"{portal.slug}.localhost"
    citizen = await _browser(app, browsers, store, host, portal.slug, ["citizen"], dossier_count=5)
    assert 'data-testid="dossier-count">5<' in (await citizen.get("/help")).text
    mine = await citizen.get("/my/dossiers")
    assert mine.status_code == 200
    # Citizen 1 of a new portal has no dossier: the list said so, and the session now knows it.
    assert 'data-testid="dossier-count"' not in mine.text
    assert 'data-testid="dossier-count"' not in (await citizen.get("/help")).text


async def test_console_navigation(app: Litestar, store: SessionStore, browsers: list[Client]) -> None:
    admin = await _browser(app, browsers, store, "admin.localhost", "console", ["platform_admin"])
    home = (await admin.get("/")).text
    assert _links(home) == ["/", "/tenants/new", "/ranking", "/audit", "/admins"]
    assert _current(home) == [("/", "page")]
    assert _current((await admin.get("/audit")).text) == [("/audit", "page")]
    assert home.count('aria-current="page"') == 1  # one navigation, not two


async def test_footer_contact_and_information_pages_in_both_languages(
    app: Litestar, portal: Tenant, store: SessionStore, browsers: list[Client]
) -> None:
    host = f"{portal.slug}.localhost"
    vi = await _browser(app, browsers, store, host, portal.slug, None)
    en = await _browser(app, browsers, store, host, portal.slug, None, lang="en")

    home = (await vi.get("/")).text
    footer = home[home.index('data-testid="site-footer"') :]
    for text in (
        "Trung tâm Phục vụ hành chính công Tỉnh Khung Trang",
        "Số 9 đường Thử Nghiệm, phường Trung Tâm",
        '<a href="tel:18001234">1800 1234</a>',
        '<a href="mailto:motcua@khungtrang.example.vn">',
        '<a href="/privacy">Chính sách bảo vệ dữ liệu cá nhân</a>',
        '<a href="/accessibility">Tuyên bố về khả năng tiếp cận</a>',
        '<a href="/thong-ke">Thống kê</a>',
        'hreflang="en"',
    ):
        assert text in footer, text
    assert "never shown" not in home

    privacy = await vi.get("/privacy")
    assert privacy.status_code == 200
    # The law in force since 1 January 2026 and its decree (which replaced Decree 13/2023/NĐ-CP).
    for text in (
        "Luật Bảo vệ dữ liệu cá nhân số 91/2025/QH15",
        "Nghị định số 356/2025/NĐ-CP",
        "Quyền của bạn",
        "Lưu trữ trong bao lâu",
        "30 phút",
        "12 giờ",
    ):
        assert text in privacy.text, text
    assert "motcua@khungtrang.example.vn" in privacy.text  # who to write to
    accessibility = await vi.get("/accessibility")
    assert accessibility.status_code == 200
    assert "WCAG" in accessibility.text and "Những hạn chế đã biết" in accessibility.text
    help_page = await vi.get("/help")
    assert help_page.status_code == 200
    assert 'class="hotline"' in help_page.text and "Câu hỏi thường gặp" in help_page.text

    english = {path: (await en.get(path)).text for path in ("/", "/privacy", "/accessibility", "/help")}
    assert "Personal data protection policy" in english["/privacy"]
    assert "Your rights" in english["/privacy"] and "Law 91/2025/QH15" in english["/privacy"]
    assert "Decree 356/2025/ND-CP" in english["/privacy"] and "13/2023" not in english["/privacy"]
    assert "Accessibility statement" in english["/accessibility"]
    assert "Frequently asked questions" in english["/help"]
    assert "Hotline" in english["/"] and "Personal data protection policy" in english["/"]
    for html in english.values():
        assert "Quyền của bạn" not in html and "Chính sách bảo vệ" not in html


async def test_a_portal_without_contact_shows_only_its_name(
    client: Client, engine: Engine, live_settings: Settings
) -> None:
    from motcua.admin.services import build_spec, onboard_tenant

    bare = onboard_tenant(
        engine,
        live_settings,
        build_spec(slug=f"bare-{uuid.uuid4().hex[:6]}", name="Cổng Không Liên Hệ"),
        actor=Actor.operator("test"),
    )
    html = (await client.get("/privacy", headers={"host": f"{bare.slug}.localhost"})).text
    assert "Cổng Không Liên Hệ" in html
    assert "Đường dây nóng" not in html and "tel:" not in html and "mailto:" not in html


def test_the_phase_banner_shows_outside_production_only(portal: Tenant, live_settings: Settings) -> None:
    themes = Themes(live_settings.themes_dir)
    for phase, shown in (("development", True), ("test", True), (None, False)):
        html = themes.render("info/help.html", tenant=portal, site="tenant", phase=phase)
        assert ('data-testid="phase-banner"' in html) is shown, phase
        assert ("Môi trường thử nghiệm" in html) is shown, phase
    # Pages rendered through core.pages.page take it from the settings.
    assert live_settings.env == "test"


async def test_the_banner_follows_the_settings(
    portal: Tenant, client: Client, live_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = {"host": f"{portal.slug}.localhost"}
    assert 'data-testid="phase-banner"' in (await client.get("/help", headers=host)).text
    production = replace(live_settings, env="production")
    monkeypatch.setattr(pages, "settings_of", lambda _request: production)
    assert 'data-testid="phase-banner"' not in (await client.get("/help", headers=host)).text


async def test_home_sections_come_from_the_theme(portal: Tenant, client: Client) -> None:
    html = (await client.get("/", headers={"host": f"{portal.slug}.localhost"})).text
    order = [
        html.index('data-testid="home-statistics"'),
        html.index('role="search"'),
        html.index('data-testid="home-news"'),
    ]
    assert order == sorted(order)
    assert 'data-testid="home-popular"' not in html and 'data-testid="home-fields"' not in html
    assert "28/11/2026" in html and "Bộ phận Một cửa làm việc sáng thứ Bảy" in html


async def test_the_shared_part_of_the_home_page_is_rendered_once_per_language_and_follows_changes(
    portal: Tenant, app: Litestar, store: SessionStore, browsers: list[Client], engine: Engine
) -> None:
    """The home page's sections are a cached fragment (core.fragments): the page stays per person
    around them, each language has its own, and a theme change shows at the next request."""
    host = f"{portal.slug}.localhost"
    anonymous = await _browser(app, browsers, store, host, portal.slug, None)
    english = await _browser(app, browsers, store, host, portal.slug, None, lang="en")
    first = (await anonymous.get("/")).text
    in_english = (await english.get("/")).text
    assert "Bộ phận Một cửa làm việc sáng thứ Bảy" in first and "Tìm thủ tục hành chính" in first
    assert "Search administrative procedures" in in_english and "Tìm thủ tục hành chính" not in in_english

    # A signed-in person gets the same sections under their own header, and no one else sees it.
    citizen = await _browser(app, browsers, store, host, portal.slug, ["citizen"])
    signed_in = (await citizen.get("/")).text
    assert "Đỗ Thị Khung" in signed_in and 'data-testid="home-news"' in signed_in
    assert "Đỗ Thị Khung" not in (await anonymous.get("/")).text

    # A theme change (from any process: tenancy.events) drops the fragments: the news section goes.
    with engine.begin() as conn:
        branding = conn.execute(
            select(TenantRecord.branding).where(TenantRecord.slug == portal.slug)
        ).scalar_one()
        conn.execute(
            update(TenantRecord)
            .where(TenantRecord.slug == portal.slug)
            .values(branding={**branding, "home_sections": ["search"]})
        )
    events.tenants_changed()
    try:
        after = (await anonymous.get("/")).text
        assert 'data-testid="home-news"' not in after and 'role="search"' in after
    finally:  # the module's other tests read the theme's sections
        with engine.begin() as conn:
            conn.execute(
                update(TenantRecord).where(TenantRecord.slug == portal.slug).values(branding=branding)
            )
        events.tenants_changed()


@pytest.fixture
def rogue() -> Iterator[RogueProvider]:
    provider = RogueProvider().start()
    yield provider
    provider.stop()


async def test_officers_land_on_their_queue_after_login(
    app: Litestar,
    rogue: RogueProvider,
    engine: Engine,
    live_settings: Settings,
    store: SessionStore,
    browsers: list[Client],
) -> None:
    from motcua.admin.services import build_spec, onboard_tenant

    tenant = onboard_tenant(
        engine,
        live_settings,
        build_spec(slug=f"land-{uuid.uuid4().hex[:6]}", name="Cổng Đăng Nhập"),
        actor=Actor.operator("test"),
    )
    use_provider(engine, live_settings, tenant, issuer=rogue.issuer)
    host = f"{tenant.slug}.localhost"
    browser = httpx.AsyncClient(transport=asgi_transport(app), follow_redirects=False)
    browsers.append(browser)

    async def login(next_path: str | None = None) -> httpx.Response:
        start = await browser.get(f"http://{host}/login", params={"next": next_path} if next_path else {})
        assert start.status_code == 302, start.text
        callback = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
        return await browser.get(callback)

    citizen = await login()
    assert citizen.status_code == 303 and citizen.headers["location"] == "/"
    # The login counted the citizen's dossiers into the session (none yet).
    sid = browser.cookies.get(SESSION_COOKIE, domain=host)
    assert sid is not None
    session = await store.load(sid, tenant.slug)
    assert session is not None and session.dossier_count == 0

    grant_role_sync(
        engine,
        tenant,
        RoleGrantCreate.parse(PERSON["personal_id"], "tenant_admin"),
        actor=Actor.operator("t"),
    )
    assert (await login()).headers["location"] == "/manage/roles"
    grant_role_sync(
        engine, tenant, RoleGrantCreate.parse(PERSON["personal_id"], "officer"), actor=Actor.operator("t")
    )
    assert (await login()).headers["location"] == "/officer"
    # A page asked for still wins.
    assert (await login("/tracking")).headers["location"] == "/tracking"


async def test_a_submission_counts_in_the_navigation(
    citizen_sign_in: SignIn, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    browser = await citizen_sign_in(tenant)
    assert 'data-testid="dossier-count"' not in (await browser.get("/help")).text
    token = await _prepare(browser)
    done = await browser.post(
        "/procedures/1.001193/apply/submit",
        data={"_csrf_token": browser.cookies["motcua_csrf"], "token": token, "declaration": "yes"},
    )
    assert done.status_code == 303 and CODE.search(done.headers["location"])
    assert 'data-testid="dossier-count">1<' in (await browser.get("/help")).text
