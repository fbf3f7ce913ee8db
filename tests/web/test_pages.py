from __future__ import annotations

import httpx

from tests.conftest import MakeTenant, procedure

Client = httpx.AsyncClient


async def test_home_lists_the_tenant_procedures_in_vietnamese(
    client: Client, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(
        name="Tỉnh Trang Chủ",
        procedures=[
            procedure("1.001193", "Đăng ký khai sinh", processing_days=1),
            procedure("1.004837", "Cấp giấy xác nhận tình trạng hôn nhân", fee_vnd=15000, processing_days=3),
        ],
    )
    response = await client.get("/", headers={"host": f"{tenant.slug}.localhost"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<html lang="vi">' in html
    assert "Lĩnh vực (2 thủ tục)" in html
    assert '<a href="/procedures?field=H%E1%BB%99%20t%E1%BB%8Bch">Hộ tịch</a>' in html
    assert '<a href="/procedures/1.001193">Đăng ký khai sinh</a>' in html
    assert "15.000 ₫" in html
    assert "Miễn phí" in html
    assert "/static/default/js/htmx.min.js" in html


async def test_procedure_page_and_unknown_code(client: Client, make_tenant: MakeTenant) -> None:
    tenant = make_tenant(
        procedures=[
            procedure(
                "2.000488",
                "Cấp Phiếu lý lịch tư pháp",
                field="Lý lịch tư pháp",
                agency="Sở Tư pháp",
                fee_vnd=200000,
                processing_days=10,
                fields=[{"name": "full_name", "label": "Họ và tên", "type": "text", "required": True}],
            )
        ]
    )
    host = {"host": f"{tenant.slug}.localhost"}
    page = await client.get("/procedures/2.000488", headers=host)
    assert page.status_code == 200
    for text in (
        "Cấp Phiếu lý lịch tư pháp",
        "Sở Tư pháp",
        "200.000 ₫",
        "10 ngày làm việc",
        "Họ và tên",
        "Toàn trình",
    ):
        assert text in page.text
    missing = await client.get("/procedures/9.999999", headers=host)
    assert missing.status_code == 404
    assert "Không có thủ tục mã 9.999999" in missing.text
    assert tenant.name in missing.text  # the error page keeps the tenant's own layout


async def test_unknown_path_on_a_tenant_host_is_a_themed_404(client: Client, make_tenant: MakeTenant) -> None:
    tenant = make_tenant(name="Tỉnh Lạc Đường")
    response = await client.get("/khong-co-trang-nay", headers={"host": f"{tenant.slug}.localhost"})
    assert response.status_code == 404
    assert "Không tìm thấy trang" in response.text
    assert "Tỉnh Lạc Đường" in response.text


async def test_tenant_theme_overrides_templates_and_colours(client: Client, make_tenant: MakeTenant) -> None:
    themed = make_tenant(theme="hanoi")
    plain = make_tenant()
    themed_html = (await client.get("/", headers={"host": f"{themed.slug}.localhost"})).text
    plain_html = (await client.get("/", headers={"host": f"{plain.slug}.localhost"})).text
    assert "Dịch vụ công trực tuyến Thủ đô" in themed_html  # themes/hanoi/templates/home.html
    assert "/static/hanoi/css/theme.css" in themed_html
    assert "Dịch vụ công trực tuyến Thủ đô" not in plain_html
    assert "/static/hanoi/" not in plain_html


async def test_static_files_are_served_and_confined(client: Client) -> None:
    htmx = await client.get("/static/default/js/htmx.min.js", headers={"host": "nope.localhost"})
    assert htmx.status_code == 200
    assert "htmx" in htmx.text[:2000]
    assert "max-age" in htmx.headers["cache-control"]
    # A theme without the file falls back to the default theme's.
    assert (await client.get("/static/hanoi/js/htmx.min.js")).status_code == 200
    assert (await client.get("/static/hanoi/logo.svg")).headers["content-type"].startswith("image/svg+xml")
    for path in (
        "/static/default/../templates/base.html",
        "/static/default/%2e%2e/templates/base.html",
        "/static/..%2f..%2fpyproject.toml/x",
        "/static/default/../../../pyproject.toml",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "{% block" not in response.text


async def test_platform_root_lists_portals(client: Client, make_tenant: MakeTenant) -> None:
    tenant = make_tenant(name="Tỉnh Trên Danh Sách")
    response = await client.get("/", headers={"host": "localhost:8000"})
    assert response.status_code == 200
    assert f'href="http://{tenant.slug}.localhost:8000/"' in response.text
