from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine, text

from motcua.core.audit import Actor
from motcua.tenancy.resolution import normalise_host
from motcua.tenancy.services import resume_tenant, suspend_tenant
from tests.conftest import MakeTenant, procedure, unique_slug

Client = httpx.AsyncClient


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("hanoi.localhost", "hanoi.localhost"),
        ("HaNoi.LocalHost:8000", "hanoi.localhost"),
        ("hanoi.localhost.", "hanoi.localhost"),
        ("[::1]:8000", "[::1]"),
        ("", ""),
    ],
)
def test_host_normalisation(raw: str, expected: str) -> None:
    assert normalise_host(raw) == expected


async def test_slug_subdomain_serves_the_tenant_home(client: Client, make_tenant: MakeTenant) -> None:
    tenant = make_tenant(name="Tỉnh Sông Hồng", procedures=[procedure("1.001193", "Đăng ký khai sinh")])
    response = await client.get("/", headers={"host": f"{tenant.slug}.localhost"})
    assert response.status_code == 200
    assert "Tỉnh Sông Hồng" in response.text
    assert "Đăng ký khai sinh" in response.text


async def test_port_is_stripped_and_host_is_case_insensitive(client: Client, make_tenant: MakeTenant) -> None:
    tenant = make_tenant(name="Tỉnh Hoa Sen")
    response = await client.get("/", headers={"host": f"{tenant.slug.upper()}.LocalHost:8000"})
    assert response.status_code == 200
    assert "Tỉnh Hoa Sen" in response.text


async def test_custom_domain_serves_its_tenant(client: Client, make_tenant: MakeTenant) -> None:
    host = f"dichvucong.{unique_slug('cd')}.gov.vn"
    make_tenant(name="Tỉnh Tên Miền Riêng", domains=[host])
    response = await client.get("/", headers={"host": f"{host.upper()}:443"})
    assert response.status_code == 200
    assert "Tỉnh Tên Miền Riêng" in response.text


@pytest.mark.parametrize("host", ["nope.localhost", "evil.example.com", "a.b.localhost", "", "[::1]:8000"])
async def test_unknown_host_gets_no_such_portal(client: Client, host: str) -> None:
    response = await client.get("/", headers={"host": host})
    assert response.status_code == 404
    assert "Không có cổng dịch vụ công tại địa chỉ này" in response.text


async def test_unknown_host_never_shows_a_tenant_page_on_any_path(
    client: Client, make_tenant: MakeTenant
) -> None:
    make_tenant(procedures=[procedure("1.001193", "Đăng ký khai sinh")])
    for path in ("/", "/procedures/1.001193", "/schema", "/console"):
        response = await client.get(path, headers={"host": "nope.localhost"})
        assert response.status_code == 404, path
        assert "Đăng ký khai sinh" not in response.text


async def test_suspended_tenant_gets_503_and_resumes(
    client: Client, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(name="Tỉnh Tạm Dừng")
    host = {"host": f"{tenant.slug}.localhost"}
    assert (await client.get("/", headers=host)).status_code == 200  # now cached as active
    suspend_tenant(engine, tenant.slug, actor=Actor.operator("test"))
    response = await client.get("/", headers=host)
    assert response.status_code == 503
    assert "tạm ngừng" in response.text
    assert response.headers["retry-after"]
    resume_tenant(engine, tenant.slug, actor=Actor.operator("test"))
    assert (await client.get("/", headers=host)).status_code == 200


async def test_tenant_in_provisioning_or_failed_is_not_served(client: Client, engine: Engine) -> None:
    slug = unique_slug("half")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO platform.tenants (slug, name, kind, status, schema_name) "
                "VALUES (:s, 'Nửa vời', 'province', 'provisioning', :schema)"
            ),
            {"s": slug, "schema": "t_" + slug.replace("-", "_")},
        )
    response = await client.get("/", headers={"host": f"{slug}.localhost"})
    assert response.status_code == 404


async def test_console_host_is_reserved(client: Client) -> None:
    response = await client.get("/", headers={"host": "admin.localhost"})
    assert response.status_code == 200
    assert "Bảng điều khiển trung tâm" in response.text


async def test_console_routes_are_unreachable_from_tenant_hosts(
    client: Client, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant()
    for path in ("/console", "/console/", "/platform"):
        response = await client.get(path, headers={"host": f"{tenant.slug}.localhost"})
        assert response.status_code == 404, path
        assert "Bảng điều khiển" not in response.text


async def test_tenant_routes_are_unreachable_from_the_console_host(
    client: Client, make_tenant: MakeTenant
) -> None:
    make_tenant(procedures=[procedure("1.001193", "Đăng ký khai sinh")])
    response = await client.get("/procedures/1.001193", headers={"host": "admin.localhost"})
    assert response.status_code == 404
    assert "Đăng ký khai sinh" not in response.text


async def test_health_answers_on_every_host(client: Client) -> None:
    for host in ("nope.localhost", "admin.localhost", "localhost"):
        assert (await client.get("/healthz", headers={"host": host})).json() == {"status": "ok"}
    ready = await client.get("/readyz", headers={"host": "nope.localhost"})
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "redis": "ok"}
