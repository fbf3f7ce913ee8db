"""The tenant middleware decides on the very path the router matches: no spelling of a path
reaches console, platform or development handlers from a tenant host."""

from __future__ import annotations

import httpx
import pytest

from motcua.tenancy.resolution import normalise_path
from tests.conftest import MakeTenant


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/", "/"),
        ("//console", "/console"),
        ("///console/", "/console/"),
        ("/a/../console", "/console"),
        ("/./platform//dev/mail", "/platform/dev/mail"),
        ("/../../etc/passwd", "/etc/passwd"),
        ("/procedures/1.001193", "/procedures/1.001193"),
    ],
)
def test_paths_are_normalised_once(raw: str, expected: str) -> None:
    assert normalise_path(raw) == expected


SNEAKY = [
    "//console",
    "///console",
    "/%2Fconsole",
    "/%2F%2Fconsole",
    "//platform/dev/mail",
    "/%2Fplatform/dev/mail",
    "//dev-eid/.well-known/openid-configuration",
    "/x/../console",
    "/./console",
]


@pytest.mark.parametrize("path", SNEAKY)
async def test_no_spelling_reaches_internal_handlers_from_a_tenant_host(
    client: httpx.AsyncClient, make_tenant: MakeTenant, path: str
) -> None:
    tenant = make_tenant()
    url = httpx.URL(f"http://{tenant.slug}.localhost").copy_with(raw_path=path.encode())
    response = await client.get(url)
    assert response.status_code == 404
    assert "Không có cổng dịch vụ công tại địa chỉ này" in response.text
    # In particular, never the platform's mail inbox or the console.
    assert "dev/mail" not in response.text and "console_home" not in response.text


async def test_the_normalised_path_still_serves_the_tenant(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(name="Tỉnh Đường Dẫn")
    url = httpx.URL(f"http://{tenant.slug}.localhost").copy_with(raw_path=b"//")
    response = await client.get(url)
    assert response.status_code == 200
    assert "Tỉnh Đường Dẫn" in response.text
