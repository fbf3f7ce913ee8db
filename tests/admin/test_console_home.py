"""The console home: platform administrators only, every tenant with its live figures."""

from __future__ import annotations

from tests.admin.conftest import Browser
from tests.conftest import MakeTenant


async def test_the_console_home_lists_tenants_for_platform_administrators_only(
    signed_in: Browser, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(name="Tỉnh Bảng Điều Khiển")
    admin = await signed_in()
    home = await admin.get("/")
    assert home.status_code == 200
    assert tenant.name in home.text
    assert 'aria-current="page"' in home.text

    stranger = await signed_in(role="none")
    assert (await stranger.get("/")).status_code == 403
    tenant_admin = await signed_in(tenant, role="tenant_admin")
    # The tenant administrator's session is not a console session.
    console = await tenant_admin.get("http://admin.localhost/")
    assert tenant.name not in console.text
