"""Security headers on every response (motcua.web.headers), and templates that keep the strict
Content-Security-Policy possible: no inline script, style or event handler anywhere."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from litestar.types import Message, Receive, ReceiveMessage, Scope, Send
from sqlalchemy import Engine

from motcua.core.audit import Actor
from motcua.core.settings import Settings
from motcua.identity.sessions import SESSION_COOKIE, SessionStore, UserSession
from motcua.tenancy.resolution import HOST_INDEPENDENT_PREFIXES
from motcua.tenancy.services import suspend_tenant
from motcua.web.headers import (
    API_REFERENCE_POLICY,
    STRICT_POLICY,
    STRIPE_CHECKOUT_ORIGIN,
    SecurityHeaders,
    origin_of,
)
from tests.conftest import MakeTenant, asgi_transport, procedure

ROOT = Path(__file__).resolve().parents[2]

# The exact policy, spelled out here rather than imported, so a change to it is a change to a test.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)

# Internal paths (the console host's under /console) whose pages must never be stored.
PERSONAL = re.compile(
    r"^/(my|officer|manage|payments|feedback|receipts|console|login|auth|logout|account|platform/dev)(/|$)"
    r"|^/procedures/[^/]+/apply(/|$)"
)

# Plausible values for path parameters; what matters is that every response carries the headers,
# whatever its status.
PARAMETERS = {
    "code": "1.001193",
    "document": "to-khai",
    "theme": "default",
    "path": "css/site.css",
    "file_id": "0" * 32,
    "message_id": "nothing",
}

HOSTS = {"tenant": "", "console": "/console", "platform": "/platform"}


def _fill(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        name, kind = match.group(1), match.group(2)
        if name == "code" and "/lang/" in path:
            return "en"  # the language switch: a redirect that sets a cookie
        return "1" if kind == "int" else PARAMETERS.get(name, "x")

    return re.sub(r"\{(\w+):(\w+)\}", value, path)


def get_paths(app: Litestar) -> list[str]:
    """Every GET route of the app, parameters filled in."""
    paths = {
        _fill(route.path)
        for route in app.routes
        if isinstance(route, HTTPRoute)
        and any(isinstance(h, HTTPRouteHandler) and "GET" in h.http_methods for h in route.route_handlers)
    }
    return sorted(paths)


def assert_secured(response: httpx.Response, internal_path: str, where: str) -> None:
    headers = response.headers
    api_reference = (
        internal_path.startswith("/schema")
        and response.status_code == 200
        and headers.get("content-type", "").startswith("text/html")
    )
    assert headers.get("content-security-policy") == (API_REFERENCE_POLICY if api_reference else POLICY), (
        where
    )
    assert "frame-ancestors 'none'" in headers["content-security-policy"], where
    assert headers.get("x-frame-options") == "DENY", where
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("referrer-policy") == "same-origin", where
    assert headers.get("permissions-policy") == "camera=(), microphone=(), geolocation=()", where
    assert headers.get("cross-origin-opener-policy") == "same-origin", where
    assert "strict-transport-security" not in headers, where  # not in production
    if internal_path.startswith("/static/"):  # their own caching, even when the CSRF cookie comes along
        assert "public" in headers.get("cache-control", ""), where
    elif PERSONAL.match(internal_path) or "set-cookie" in headers:
        assert "no-store" in headers.get("cache-control", ""), where


async def test_every_get_route_on_every_host_sends_the_security_headers(
    app: Litestar, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(procedures=[procedure("1.001193", "Đăng ký khai sinh")])
    paths = get_paths(app)
    assert "/my/dossiers/1.001193" in paths and "/console" in paths and "/schema" in paths
    hosts = {"tenant": f"{tenant.slug}.localhost", "console": "admin.localhost", "platform": "localhost"}
    for site, host in hosts.items():
        prefix = HOSTS[site]
        async with httpx.AsyncClient(
            transport=asgi_transport(app), base_url=f"http://{host}", timeout=30
        ) as browser:
            for path in paths:
                # The console's and the landing page's routes are reached without their prefix on
                # their own host; every other route is asked for too, and answers 404 there.
                public = (path[len(prefix) :] or "/") if prefix and path.startswith(prefix) else path
                # The path the app sees: the tenant middleware moves the console's and the landing
                # page's under their prefix, all but health probes, static files and webhooks.
                internal = public
                if prefix and not public.startswith(HOST_INDEPENDENT_PREFIXES):
                    internal = prefix + public if public != "/" else prefix
                response = await browser.get(public, headers={"accept": "text/html"})
                assert_secured(response, internal, f"{host}{public} → {response.status_code}")


async def test_pages_the_middlewares_send_themselves_carry_the_headers(
    app: Litestar, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant()
    async with httpx.AsyncClient(transport=asgi_transport(app), base_url="http://x") as client:
        unknown = await client.get("/", headers={"host": "nowhere.localhost"})
        assert unknown.status_code == 404
        assert_secured(unknown, "/", "unknown host")
        assert unknown.headers["cache-control"] == "no-store"  # its own, kept
        suspend_tenant(engine, tenant.slug, actor=Actor.operator("test"))
        suspended = await client.get("/", headers={"host": f"{tenant.slug}.localhost"})
        assert suspended.status_code == 503
        assert_secured(suspended, "/", "suspended portal")
        # Refused before any tenant is looked up, whatever the page says.
        refused = await client.get("/", headers={"host": "bad host!"})
        assert refused.status_code >= 400
        assert_secured(refused, "/", "malformed host")


async def test_the_e_id_stand_in_keeps_its_own_page_headers(app: Litestar) -> None:
    async with httpx.AsyncClient(transport=asgi_transport(app), base_url="http://eid.localhost") as eid:
        # An authorization request it cannot trust: a page, sent with the stand-in's own headers.
        page = await eid.get("/authorize")
        assert page.status_code == 400
        assert page.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["x-content-type-options"] == "nosniff"
        keys = await eid.get("/jwks")
        assert keys.status_code == 200
        assert keys.headers["content-security-policy"] == POLICY
        assert keys.headers["x-frame-options"] == "DENY"


async def test_static_files_keep_their_own_caching(app: Litestar) -> None:
    async with httpx.AsyncClient(transport=asgi_transport(app), base_url="http://localhost") as client:
        for _ in range(2):  # a browser's first request also gets the CSRF cookie
            static = await client.get("/static/default/css/site.css")
            assert static.status_code == 200
            assert_secured(static, "/static/default/css/site.css", "static file")
            assert static.headers["cache-control"] == "public, max-age=3600"


async def test_a_signed_in_persons_pages_may_post_to_their_e_id_logout_and_are_not_stored(
    app: Litestar, make_tenant: MakeTenant, live_settings: Settings
) -> None:
    tenant = make_tenant(procedures=[procedure("1.001193", "Đăng ký khai sinh")])
    redis_client = aioredis.Redis.from_url(live_settings.redis_url or "")
    store = SessionStore(redis_client, idle_seconds=600, absolute_seconds=3600)
    session_id = await store.create(
        UserSession(
            site=tenant.slug,
            issuer="https://eid.example.vn",
            subject="sub-1",
            personal_id="001190001234",
            name="Nguyễn Thị Mai",
            end_session_endpoint="https://sso.eid.example.vn:8443/logout?x=1",
        )
    )
    await redis_client.aclose()
    host = f"{tenant.slug}.localhost"
    async with httpx.AsyncClient(transport=asgi_transport(app), base_url=f"http://{host}") as browser:
        browser.cookies.set(SESSION_COOKIE, session_id, domain=host)
        home = await browser.get("/")
        assert "Nguyễn Thị Mai" in home.text
        policy = home.headers["content-security-policy"]
        # The logout form's redirect goes to the e-ID provider; nothing else is added.
        assert policy == POLICY.replace(
            "form-action 'self'", "form-action 'self' https://sso.eid.example.vn:8443"
        )
        assert home.headers["cache-control"] == "no-store"
        catalogue = await browser.get("/procedures/1.001193")
        assert catalogue.headers["cache-control"] == "no-store"


async def test_the_tenant_colours_are_a_stylesheet(
    app: Litestar, engine: Engine, live_settings: Settings
) -> None:
    from motcua.admin.services import build_spec, onboard_tenant
    from tests.conftest import unique_slug

    spec = build_spec(
        slug=unique_slug("colour"),
        name="Tỉnh Có Màu",
        theme="hanoi",
        branding={"primary": "#9b1c1c", "accent": "#f2c14e"},
    )
    tenant = onboard_tenant(engine, live_settings, spec, actor=Actor.operator("test"))
    async with httpx.AsyncClient(
        transport=asgi_transport(app), base_url=f"http://{tenant.slug}.localhost"
    ) as browser:
        home = await browser.get("/")
        link = re.search(r'<link rel="stylesheet" href="(/static/branding\.css\?[^"]+)">', home.text)
        assert link is not None
        css = await browser.get(link.group(1).replace("&amp;", "&"))
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")
        assert css.text.strip() == ":root { --primary: #9b1c1c; --accent: #f2c14e; }"
        assert_secured(css, "/static/branding.css", "tenant colours")
        # Nothing but #rrggbb reaches the stylesheet.
        sneaky = await browser.get(
            "/static/branding.css", params={"primary": "red;} body{display:none", "accent": "#f2c14e\n"}
        )
        assert sneaky.text.strip() == ":root { }"


# The middleware alone, around a fake app ----------------------------------------------------------
def fake_app(headers: list[tuple[bytes, bytes]], status: int = 200) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok", "more_body": False})

    return app


async def run(
    middleware: SecurityHeaders, path: str = "/", state: dict[str, Any] | None = None
) -> dict[str, str]:
    sent: list[Message] = []

    async def receive() -> ReceiveMessage:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Any = {"type": "http", "path": path, "headers": [], "method": "GET", "state": state or {}}
    await middleware(scope, receive, send)
    start = sent[0]
    assert start["type"] == "http.response.start"
    names = [name for name, _ in start["headers"]]
    assert len(names) == len(set(names)), "a header sent twice"
    return {name.decode(): value.decode() for name, value in start["headers"]}


async def test_hsts_only_in_production() -> None:
    html = [(b"content-type", b"text/html")]
    production = await run(SecurityHeaders(fake_app(html), Settings(env="production")))
    assert production["strict-transport-security"] == "max-age=63072000; includeSubDomains"
    for env in ("development", "test"):
        other = await run(SecurityHeaders(fake_app(html), Settings(env=env)))
        assert "strict-transport-security" not in other
        assert other["content-security-policy"] == POLICY == STRICT_POLICY


async def test_headers_a_response_set_itself_are_kept() -> None:
    # A citizen's uploaded file, as dossiers/routes.py sends it.
    download = [
        (b"content-type", b"application/pdf"),
        (b"cache-control", b"private, no-store"),
        (b"content-security-policy", b"default-src 'none'; sandbox"),
        (b"x-content-type-options", b"nosniff"),
    ]
    headers = await run(SecurityHeaders(fake_app(download), Settings()), "/my/files/abc")
    assert headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert headers["cache-control"] == "private, no-store"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"


async def test_no_store_on_personal_paths_and_on_responses_that_set_a_cookie() -> None:
    html = [(b"content-type", b"text/html")]
    settings = Settings()
    for path in (
        "/my/dossiers",
        "/officer",
        "/manage/roles",
        "/payments/1/return",
        "/feedback",
        "/console",
        "/console/tenants",
        "/login",
        "/auth/callback",
        "/account",
        "/receipts/3",
        "/procedures/1.001193/apply",
        "/procedures/1.001193/apply/review",
    ):
        assert (await run(SecurityHeaders(fake_app(html), settings), path))["cache-control"] == "no-store", (
            path
        )
    for path in ("/", "/procedures", "/procedures/1.001193", "/tracking", "/api/v1/procedures", "/myself"):
        assert "cache-control" not in await run(SecurityHeaders(fake_app(html), settings), path), path
    # A cookie: not stored, unless the response chose its own caching (as every header it sets).
    cookie = [(b"set-cookie", b"motcua_lang=en; Path=/; HttpOnly")]
    assert (await run(SecurityHeaders(fake_app(cookie), settings), "/lang/en"))["cache-control"] == "no-store"
    static = [(b"cache-control", b"public, max-age=3600"), (b"set-cookie", b"motcua_csrf=abc; Path=/")]
    assert (await run(SecurityHeaders(fake_app(static), settings), "/static/x.css"))["cache-control"] == (
        "public, max-age=3600"
    )


async def test_form_action_lets_a_signed_in_person_log_out_and_pay() -> None:
    html = [(b"content-type", b"text/html")]
    user = UserSession(
        site="hanoi",
        issuer="https://eid.example.vn",
        subject="s",
        personal_id="001190001234",
        name="An",
        end_session_endpoint="https://eid.example.vn/connect/endsession",
    )
    stand_in = Settings(stripe_secret_key="sk_test_x", stripe_api_base="http://127.0.0.1:4242")
    production = Settings(env="production", stripe_secret_key="sk_live_x")
    no_payments = Settings()

    async def form_action(settings: Settings, state: dict[str, Any]) -> str:
        policy = (await run(SecurityHeaders(fake_app(html), settings), "/my/dossiers/X", state))[
            "content-security-policy"
        ]
        found = re.search(r"form-action ([^;]*);", policy)
        assert found is not None
        return found.group(1)

    tenant_page = {"site": "tenant", "user": user}
    assert await form_action(stand_in, tenant_page) == "'self' https://eid.example.vn http://127.0.0.1:4242"
    assert (
        await form_action(production, tenant_page)
        == f"'self' https://eid.example.vn {STRIPE_CHECKOUT_ORIGIN}"
    )
    assert await form_action(no_payments, tenant_page) == "'self' https://eid.example.vn"
    # The console has no pay button; a visitor who is not signed in has no logout button either.
    assert await form_action(production, {"site": "console", "user": user}) == "'self' https://eid.example.vn"
    assert await form_action(production, {"site": "tenant"}) == "'self'"


def test_only_plain_origins_get_into_the_policy() -> None:
    assert origin_of("https://eid.example.vn/logout?a=b") == "https://eid.example.vn"
    assert origin_of("http://eid.localhost:8000/logout") == "http://eid.localhost:8000"
    assert origin_of("https://[::1]:8443/x") == "https://[::1]:8443"
    for bad in (
        None,
        "",
        "javascript:alert(1)",
        "https://a b/",
        "https://x; script-src *",
        "https://u@x/",
        "ftp://x/",
        "https://x:99999999/",
        "https://x\r\nSet-Cookie: a=b",
    ):
        assert origin_of(bad) is None, bad


async def test_non_http_scopes_pass_through() -> None:
    seen: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "websocket.accept", "subprotocol": None, "headers": []})

    async def send(message: Message) -> None:
        seen.append(message)

    async def receive() -> ReceiveMessage:
        return {"type": "websocket.connect"}

    scope: Any = {"type": "websocket", "path": "/", "headers": []}
    await SecurityHeaders(app, Settings(env="production"))(scope, receive, send)
    assert seen == [{"type": "websocket.accept", "subprotocol": None, "headers": []}]


# Templates without inline code ---------------------------------------------------------------------
# Mail templates are left out: they are never served under the policy, and mail clients ignore
# stylesheets, so inline styles are how a mail is styled.
TEMPLATE_DIRS = [*sorted((ROOT / "themes").glob("*/templates")), ROOT / "src" / "motcua" / "templates"]
NOT_WEB_PAGES = {ROOT / "src" / "motcua" / "templates" / "notifications"}

_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
_JINJA_STATEMENT = re.compile(r"\{%.*?%\}", re.DOTALL)
_JINJA_EXPRESSION = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_EVENT_HANDLER = re.compile(r"^(on[a-z]+|(data-)?hx-on.*)$")
_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href"}


class _InlineCodeFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_script_with_src = False

    def _at(self) -> str:
        return f"line {self.getpos()[0]}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script":
            if "src" not in names:
                self.found.append(f"{self._at()}: inline <script>")
            self._in_script_with_src = "src" in names
        if tag == "style":
            self.found.append(f"{self._at()}: <style> element")
        for name, value in attrs:
            text = re.sub(r"[\s\x00-\x1f]", "", value or "").lower()
            if name == "style":
                self.found.append(f"{self._at()}: style attribute on <{tag}>")
            elif _EVENT_HANDLER.match(name):
                self.found.append(f"{self._at()}: event handler {name} on <{tag}>")
            elif name in _URL_ATTRIBUTES and text.startswith(("javascript:", "vbscript:")):
                self.found.append(f"{self._at()}: javascript: URL in {name} of <{tag}>")
            elif name.startswith(("hx-", "data-hx-")) and text.startswith(("js:", "javascript:")):
                self.found.append(f"{self._at()}: script in {name} of <{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script_with_src = False

    def handle_data(self, data: str) -> None:
        if self._in_script_with_src and data.strip():
            self.found.append(f"{self._at()}: code inside a <script src>")


def inline_code(source: str) -> list[str]:
    """What in a template (or any HTML) the policy would block: inline scripts and styles, event
    handler attributes (htmx's hx-on too: it runs them through eval), javascript: URLs."""
    # Jinja comments go; statements become a space and expressions a placeholder, so that
    # `<div {% if x %}hidden{% endif %}>` or `href="{{ url }}"` read as the HTML they render.
    text = _JINJA_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), source)
    text = _JINJA_STATEMENT.sub(lambda m: " " + "\n" * m.group(0).count("\n"), text)
    text = _JINJA_EXPRESSION.sub("X", text)
    finder = _InlineCodeFinder()
    finder.feed(text)
    finder.close()
    return finder.found


def templates() -> list[Path]:
    found = [
        path
        for directory in TEMPLATE_DIRS
        for path in sorted(directory.rglob("*.html"))
        if not any(path.is_relative_to(skipped) for skipped in NOT_WEB_PAGES)
    ]
    assert len(found) > 30, "the templates were not found"
    return found


def test_no_template_has_inline_script_style_or_event_handlers() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} {finding}"
        for path in templates()
        for finding in inline_code(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "move it to a file under themes/default/static (the CSP blocks it)"


def test_the_inline_code_check_can_fail() -> None:
    assert inline_code("<p>x</p><script>alert(1)</script>") == ["line 1: inline <script>"]
    assert inline_code('<button type="button" onclick="go()">Go</button>') == [
        "line 1: event handler onclick on <button>"
    ]
    assert inline_code('<p\n  style="color: red">x</p>') == ["line 1: style attribute on <p>"]
    assert inline_code("{% if x %}\n<style>p { color: red }</style>{% endif %}") == [
        "line 2: <style> element"
    ]
    assert inline_code('<a href=" JavaScript:alert(1)">x</a>') == ["line 1: javascript: URL in href of <a>"]
    assert inline_code('<div hx-on:click="alert(1)"></div>') == ["line 1: event handler hx-on:click on <div>"]
    assert inline_code("<div hx-vals='js:{a: 1}'></div>") == ["line 1: script in hx-vals of <div>"]
    assert inline_code('<script src="/static/x.js">alert(1)</script>') == [
        "line 1: code inside a <script src>"
    ]
    assert inline_code('<div {{ "onclick" }}="x">') == []  # a placeholder, not an attribute name
    # What the templates do write passes.
    clean = (
        "{# no <script> here #}<script src=\"{{ static('js/forms.js') }}\" defer></script>"
        '<div class="field" {% if f.name not in shown %}hidden{% endif %} data-show-if="{{ f.show_if }}">'
        '<body hx-headers=\'{"X-CSRF-Token": "{{ csrf_token }}"}\'>'
        '<meta name="htmx-config" content=\'{"includeIndicatorStyles": false}\'>'
    )
    assert inline_code(clean) == []
