"""Bad input gets a clear 4xx and changes nothing: odd Hosts, NUL characters, numbers beyond
64 bits, oversized bodies — tried on every route the app exposes."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import Engine, text

from motcua.core.audit import Actor
from motcua.core.tenant import Tenant
from motcua.identity.schemas import RoleGrantCreate
from motcua.identity.services import grant_role_sync
from motcua.web.requests import valid_host
from tests.conftest import MakeTenant, procedure
from tests.dossiers.conftest import SignIn

STAFF = "001080000777"


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("hanoi.localhost", True),
        ("hanoi.localhost:8000", True),
        ("[::1]:8000", True),
        ("dichvucong.hanoi.gov.vn.", True),
        ("hanoi.localhost:8000@evil.example", False),
        ("user@hanoi.localhost", False),
        ("hanoi.localhost:99999", False),
        ("hanoi.localhost:0", False),
        ("hanoi.localhost:abc", False),
        ("hanoi.localhost:", False),
        ("hanoi localhost", False),
        ("hanoi.localhost/x", False),
        ("a" * 300, False),
    ],
)
def test_host_values(host: str, ok: bool) -> None:
    assert valid_host(host) is ok


@pytest.mark.parametrize(
    "host", ["hanoi.localhost:8000@evil.example", "x.localhost:99999", "x.localhost:port", "x.localhost:-1"]
)
async def test_a_bad_host_is_refused_before_anything_reads_it(client: httpx.AsyncClient, host: str) -> None:
    response = await client.get("/login", headers={"host": host})
    assert response.status_code == 400
    assert "Yêu cầu không hợp lệ" in response.text
    assert "evil.example" not in response.text


def _bodies() -> Iterator[tuple[str, dict[str, str], bytes]]:
    yield "form", {"content-type": "application/x-www-form-urlencoded"}, b"reason=a%00b&_csrf_token=x"
    yield "json", {"content-type": "application/json"}, b'{"q": "a\\u0000b"}'


@pytest.mark.parametrize(("kind", "headers", "body"), list(_bodies()))
async def test_nul_characters_in_a_body_are_refused(
    client: httpx.AsyncClient, make_tenant: MakeTenant, kind: str, headers: dict[str, str], body: bytes
) -> None:
    tenant = make_tenant()
    response = await client.post(
        "/feedback", headers={"host": f"{tenant.slug}.localhost", **headers}, content=body
    )
    assert response.status_code == 400, kind


async def test_an_oversized_form_is_refused(client: httpx.AsyncClient, make_tenant: MakeTenant) -> None:
    tenant = make_tenant()
    response = await client.post(
        "/procedures/1.001193/apply/draft",
        headers={"host": f"{tenant.slug}.localhost", "content-type": "application/x-www-form-urlencoded"},
        content=b"a=" + b"x" * (20 * 1024 * 1024),
    )
    assert response.status_code == 413


# Every route, with hostile values in each of its parameters --------------------------------------
_PARAM = re.compile(r"\{(\w+):(\w+)\}")
HOSTILE = {
    "int": ["99999999999999999999999", "-99999999999999999999999"],
    "str": ["%00", "a%00b", "x" * 3000, "..%2F..%2Fetc"],
    "path": ["%00", "../../../etc/passwd", "a%00b"],
}


def _routes(app: Litestar) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        for method in sorted(getattr(route, "methods", ())):
            if method in ("GET", "POST") and route.path != "/":
                found.append((method, route.path))
    return sorted(set(found))


def _fill(path: str, value_for: str) -> Iterator[str]:
    params = _PARAM.findall(path)
    for name, kind in params:
        for hostile in HOSTILE.get(kind, HOSTILE["str"]):
            filled = path
            for other, other_kind in params:
                value = hostile if other == name else ("1" if other_kind == "int" else "1.001193")
                filled = filled.replace(f"{{{other}:{other_kind}}}", value)
            yield filled
    if not params:
        yield path + f"?q={value_for}&page=99999999999999999999999"


@pytest.fixture
async def staff(sign_in: SignIn, make_tenant: MakeTenant, engine: Engine) -> tuple[Tenant, httpx.AsyncClient]:
    tenant = make_tenant(procedures=[procedure("1.001193", "Đăng ký khai sinh", fee_vnd=50000)])
    for role in ("officer", "tenant_admin"):
        grant_role_sync(engine, tenant, RoleGrantCreate.parse(STAFF, role), actor=Actor.operator("test"))
    return tenant, await sign_in(tenant, name="Cán bộ Thử", personal_id=STAFF)


async def test_no_route_answers_5xx_to_hostile_parameters(
    app: Litestar, staff: tuple[Tenant, httpx.AsyncClient], engine: Engine
) -> None:
    tenant, browser = staff
    with engine.connect() as conn:
        before = conn.execute(text(f"SELECT count(*) FROM {tenant.schema}.audit_log")).scalar_one()
    await browser.get("/")  # the CSRF cookie, so that posts reach their handlers
    token = browser.cookies.get("motcua_csrf") or ""
    assert token
    hostile_form = {"_csrf_token": token, "reason": "a\x00b", "amount": "9" * 30, "version": "9" * 30}
    failures = []
    for method, template in _routes(app):
        for path in _fill(template, "%00"):
            url = httpx.URL(f"http://{tenant.slug}.localhost").copy_with(raw_path=path.encode())
            if method == "GET":
                attempts = [await browser.get(url)]
            else:
                # Percent-encoded (refused at the door) and multipart (parsed by the handler).
                attempts = [
                    await browser.post(url, data=hostile_form),
                    await browser.post(url, data=hostile_form, files={"file": ("a\x00.pdf", b"%PDF-1.4")}),
                ]
            failures += [f"{method} {path[:80]} → {r.status_code}" for r in attempts if r.status_code >= 500]
    assert failures == [], "\n".join(failures)
    with engine.connect() as conn:
        after = conn.execute(text(f"SELECT count(*) FROM {tenant.schema}.audit_log")).scalar_one()
    assert after == before  # nothing was written by any of them
