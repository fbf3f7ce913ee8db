"""The console home and a tenant's page: platform administrators only, every tenant with its
live figures, filters, and suspend/resume confirmed with a reason."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import Engine, text

from motcua.admin.figures import refresh_figures
from motcua.core.settings import Settings
from tests.admin.conftest import Browser, csrf_of
from tests.conftest import MakeTenant, procedure


def _visible(html: str) -> str:
    """The page's text as people read it (no tags, attributes or class names)."""
    return re.sub(r"<[^>]+>", " ", html)


async def test_the_console_home_lists_every_tenant_with_words_and_figures(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    province = make_tenant(name="Tỉnh Bảng Điều Khiển", domains=["dichvucong.bangdieukhien.gov.vn"])
    ministry = make_tenant(name="Bộ Bảng Điều Khiển", kind="ministry")
    await refresh_figures(province.slug)
    admin = await signed_in()

    # Searched: other tests' tenants may fill the first pages (listed by name, 100 a page).
    home = await admin.get("/", params={"q": "Bảng Điều Khiển"})
    assert home.status_code == 200
    text_ = _visible(home.text)
    assert province.name in text_ and ministry.name in text_
    assert "dichvucong.bangdieukhien.gov.vn" in text_
    assert "Tỉnh, thành phố" in text_ and "Bộ, ngành" in text_ and "Đang hoạt động" in text_
    # Values are words: no raw kind or status codes among what people read.
    for raw in (" province ", " ministry ", " active "):
        assert raw not in f" {text_} "
    assert 'aria-current="page"' in home.text
    assert f'href="/tenants/{province.slug}"' in home.text

    by_kind = _visible((await admin.get("/", params={"kind": "ministry", "q": "Bảng Điều Khiển"})).text)
    assert ministry.name in by_kind and province.name not in by_kind
    by_name = _visible((await admin.get("/", params={"q": "bangdieukhien.gov"})).text)
    assert province.name in by_name and ministry.name not in by_name
    # Hostile filters are ignored or cut, never an error.
    odd = await admin.get("/", params={"status": "'; drop", "kind": "x" * 500, "q": "%_" * 400, "page": "-3"})
    assert odd.status_code == 200

    page = await admin.get(f"/tenants/{province.slug}")
    assert page.status_code == 200
    assert "dichvucong.bangdieukhien.gov.vn" in page.text
    assert f"/tenants/{province.slug}/suspend" in page.text


async def test_console_pages_refuse_everyone_but_platform_administrators(
    signed_in: Browser, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant()
    paths = [
        "/",
        f"/tenants/{tenant.slug}",
        f"/tenants/{tenant.slug}/suspend",
        f"/tenants/{tenant.slug}/progress",
    ]
    anonymous = httpx.AsyncClient(transport=(await signed_in())._transport, base_url="http://admin.localhost")
    async with anonymous:
        for path in paths[1:]:
            assert (await anonymous.get(path)).status_code in (401, 302, 303), path
    stranger = await signed_in(role="none")  # signed in to the console, not an administrator
    for path in paths:
        response = await stranger.get(path)
        assert response.status_code == 403, path
        assert tenant.name not in response.text
    for role in ("tenant_admin", "officer", "citizen"):
        local = await signed_in(tenant, role=role)
        # Their session belongs to the tenant's portal: on the console host it is nobody's.
        for path in paths[1:]:
            response = await local.get(f"http://admin.localhost{path}")
            assert response.status_code in (401, 302, 303), (role, path)
        token = await csrf_of(local, "/")
        refused = await local.post(
            f"http://admin.localhost/tenants/{tenant.slug}/suspend",
            data={"_csrf_token": token, "reason": "x"},
        )
        assert refused.status_code in (401, 403), role
    assert (await (await signed_in()).get(f"http://{tenant.slug}.localhost/")).status_code == 200


async def test_suspend_needs_a_reason_shows_it_to_visitors_and_resume_reopens(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[procedure("1.000001", "Thủ tục trên cổng tạm ngừng")])
    admin = await signed_in()
    visitor = httpx.AsyncClient(transport=admin._transport, base_url=f"http://{tenant.slug}.localhost")

    confirm = await admin.get(f"/tenants/{tenant.slug}/suspend")
    assert confirm.status_code == 200
    token = await csrf_of(admin, f"/tenants/{tenant.slug}/suspend")
    missing = await admin.post(f"/tenants/{tenant.slug}/suspend", data={"_csrf_token": token, "reason": "  "})
    assert missing.status_code == 400
    assert 'href="#reason"' in missing.text  # the error summary links to the field
    too_long = await admin.post(
        f"/tenants/{tenant.slug}/suspend", data={"_csrf_token": token, "reason": "Bảo trì " * 100}
    )
    assert too_long.status_code == 400
    assert "Bảo trì Bảo trì" in too_long.text  # what was typed is kept
    async with visitor:
        assert (await visitor.get("/")).status_code == 200  # nothing changed

        done = await admin.post(
            f"/tenants/{tenant.slug}/suspend", data={"_csrf_token": token, "reason": "Nâng cấp hệ thống"}
        )
        assert done.status_code == 303
        closed = await visitor.get("/")
        assert closed.status_code == 503
        assert "Nâng cấp hệ thống" in closed.text
        with engine.connect() as conn:
            audit = conn.execute(
                text(
                    "SELECT actor, detail FROM platform.audit_log WHERE tenant_slug = :s "
                    "AND action = 'tenant.suspended'"
                ),
                {"s": tenant.slug},
            ).one()
        assert audit.actor.startswith("platform_admin:")
        assert audit.detail["reason"] == "Nâng cấp hệ thống" and audit.detail["address"]

        again = await admin.post(
            f"/tenants/{tenant.slug}/suspend", data={"_csrf_token": token, "reason": "x"}
        )
        assert again.status_code == 303  # already suspended: the same state, nothing to do
        reopened = await admin.post(f"/tenants/{tenant.slug}/resume", data={"_csrf_token": token})
        assert reopened.status_code == 303
        assert (await visitor.get("/")).status_code == 200
        not_suspended = await admin.post(f"/tenants/{tenant.slug}/resume", data={"_csrf_token": token})
        assert not_suspended.status_code == 303
    unknown = await admin.get("/tenants/khong-co-dau/suspend")
    assert unknown.status_code == 404


async def test_a_tenant_page_counts_this_months_dossiers_by_channel(
    signed_in: Browser, make_tenant: MakeTenant, live_settings: Settings
) -> None:
    from motcua.catalog.services import get_procedure
    from motcua.core.audit import Actor
    from motcua.core.db import Database
    from motcua.dossiers.intake import Applicant, Received, receive_dossier
    from motcua.dossiers.models import Channel

    tenant = make_tenant(procedures=[procedure("1.000002", "Thủ tục đếm theo kênh")])
    db = Database(live_settings.database_url or "", pool_size=1)
    try:
        for channel in (Channel.POSTAL, Channel.POSTAL, Channel.IN_PERSON):
            async with db.tenant_session(tenant) as session:
                found = await get_procedure(session, "1.000002")
                assert found is not None
                received = await receive_dossier(
                    session,
                    tenant,
                    procedure=found,
                    applicant=Applicant(personal_id="001190000003", full_name="Người nộp"),
                    data={},
                    documents=[],
                    channel=channel,
                    actor=Actor.officer("001178006789"),
                )
                assert isinstance(received, Received)
    finally:
        await db.dispose()
    page = _visible((await (await signed_in()).get(f"/tenants/{tenant.slug}")).text)
    rows = " ".join(page.split())
    assert "Qua dịch vụ bưu chính công ích 0 2" in rows
    assert "Trực tiếp tại Bộ phận Một cửa 0 1" in rows
    assert "Qua Cổng Dịch vụ công quốc gia 0 0" in rows
