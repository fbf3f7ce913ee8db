"""The console's audit viewer: filters, keyset pages, the CSV download, bad filters, words
instead of codes, and who may see it."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import Engine, text

from motcua.core.audit import Actor
from motcua.core.tenant import Tenant
from motcua.identity.schemas import mask_personal_id
from motcua.identity.sessions import SESSION_COOKIE
from motcua.tenancy.services import resume_tenant, suspend_tenant
from tests.admin.conftest import CONSOLE, Browser, new_personal_id
from tests.admin.test_admins import refused
from tests.conftest import MakeTenant, asgi_transport

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
SUSPENDED = "tenant-suspended"  # the action filter's key for "tenant.suspended"


def _reasons(html: str) -> list[str]:
    """The reasons shown in the result rows, in order."""
    return re.findall(r"<dt>Lý do</dt><dd>([^<]*)</dd>", html)


def _cycle(engine: Engine, tenant: Tenant, actor: Actor, reasons: list[str]) -> None:
    for reason in reasons:
        suspend_tenant(engine, tenant.slug, actor=actor, reason=reason)
        resume_tenant(engine, tenant.slug, actor=actor)


@pytest.fixture
async def anonymous(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=asgi_transport(app), base_url=CONSOLE) as client:
        yield client


async def test_rows_in_words_with_each_filter_narrowing_them(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    first = make_tenant(name="Tỉnh Nhật Ký Một")
    second = make_tenant(name="Tỉnh Nhật Ký Hai")
    alice, bob = new_personal_id(), new_personal_id()
    viewer = await signed_in(personal_id=alice, name="Đỗ Thị Kiểm")
    _cycle(engine, first, Actor.platform_admin(alice, address="203.0.113.7"), ["Bảo trì máy chủ A"])
    _cycle(engine, second, Actor.platform_admin(bob, address="203.0.113.8"), ["Bảo trì máy chủ B"])

    everything = await viewer.get("/audit")
    assert everything.status_code == 200
    html = everything.text
    # Words, never codes.
    assert "tenant.suspended" not in html and "platform_admin:" not in html and "previous_status" not in html
    assert "Tạm ngừng cổng địa phương" in html and "Mở lại cổng địa phương" in html
    assert f"Quản trị nền tảng Đỗ Thị Kiểm ({mask_personal_id(alice)})" in html
    assert f"Quản trị nền tảng ({mask_personal_id(bob)})" in html
    assert alice not in html and bob not in html
    assert f'<a href="/tenants/{first.slug}">Tỉnh Nhật Ký Một</a>' in html
    assert "<dd>203.0.113.7</dd>" in html
    assert "<dt>Trạng thái trước đó</dt><dd>Đang hoạt động</dd>" in html
    assert {"Bảo trì máy chủ A", "Bảo trì máy chủ B"} <= set(_reasons(html))

    by_tenant = await viewer.get("/audit", params={"tenant": first.slug})
    assert _reasons(by_tenant.text) == ["Bảo trì máy chủ A"]
    assert f'<option value="{first.slug}" selected>' in by_tenant.text

    by_actor = await viewer.get("/audit", params={"personal_id": bob})
    assert _reasons(by_actor.text) == ["Bảo trì máy chủ B"]
    by_kind_and_id = await viewer.get("/audit", params={"actor_kind": "platform_admin", "personal_id": alice})
    assert _reasons(by_kind_and_id.text) == ["Bảo trì máy chủ A"]
    by_other_kind = await viewer.get("/audit", params={"actor_kind": "officer", "personal_id": alice})
    assert "Không có thao tác nào khớp với bộ lọc." in by_other_kind.text
    by_kind = await viewer.get("/audit", params={"actor_kind": "system", "tenant": first.slug})
    assert "Tạm ngừng cổng địa phương</td>" not in by_kind.text

    by_action = await viewer.get("/audit", params={"action": SUSPENDED, "tenant": second.slug})
    assert "Tạm ngừng cổng địa phương</td>" in by_action.text
    assert "Mở lại cổng địa phương</td>" not in by_action.text
    resumed = await viewer.get("/audit", params={"action": "tenant-active", "tenant": second.slug})
    assert _reasons(resumed.text) == [] and "Mở lại cổng địa phương</td>" in resumed.text

    today = datetime.now(VIETNAM).date()
    this_period = await viewer.get(
        "/audit", params={"tenant": first.slug, "since": today.isoformat(), "until": today.isoformat()}
    )
    assert _reasons(this_period.text) == ["Bảo trì máy chủ A"]
    yesterday = (today - timedelta(days=1)).isoformat()
    before = await viewer.get("/audit", params={"tenant": first.slug, "until": yesterday})
    assert _reasons(before.text) == []
    after = await viewer.get(
        "/audit", params={"tenant": first.slug, "since": (today + timedelta(days=1)).isoformat()}
    )
    assert _reasons(after.text) == []
    # Dates typed the Vietnamese way are understood too.
    typed = await viewer.get("/audit", params={"tenant": first.slug, "since": today.strftime("%d/%m/%Y")})
    assert _reasons(typed.text) == ["Bảo trì máy chủ A"]


async def test_pages_follow_each_other_without_duplicates_or_gaps(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(name="Tỉnh Nhiều Trang")
    viewer = await signed_in()
    reasons = [f"Lần {i:02d}" for i in range(1, 56)]
    _cycle(engine, tenant, Actor.platform_admin(new_personal_id(), address="198.51.100.1"), reasons)

    shown: list[str] = []
    response = await viewer.get("/audit", params={"tenant": tenant.slug, "action": SUSPENDED})
    pages = 0
    while True:
        assert response.status_code == 200
        pages += 1
        shown += _reasons(response.text)
        link = re.search(r'<a href="(/audit\?[^"]+)" rel="next">', response.text)
        if link is None:
            break
        assert "cursor=" in link.group(1)
        response = await viewer.get(link.group(1).replace("&amp;", "&"))
    assert pages == 2
    assert shown == list(reversed(reasons))  # newest first, each once
    assert "Về trang đầu (mới nhất)" in response.text


async def test_the_csv_holds_the_filtered_rows(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(name="Tỉnh Tải Xuống")
    other = make_tenant()
    viewer = await signed_in()
    _cycle(engine, tenant, Actor.platform_admin(new_personal_id()), [f"CSV {i}" for i in range(3)])
    _cycle(engine, other, Actor.platform_admin(new_personal_id()), ["Không thuộc bộ lọc"])

    page = await viewer.get("/audit", params={"tenant": tenant.slug, "action": SUSPENDED})
    assert f'href="/audit.csv?tenant={tenant.slug}&amp;action={SUSPENDED}"' in page.text
    response = await viewer.get("/audit.csv", params={"tenant": tenant.slug, "action": SUSPENDED})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    body = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:4] == ["Thời điểm (giờ Việt Nam)", "Người thực hiện", "Thao tác", "Địa phương"]
    assert [r[4] for r in rows[1:]] == ["CSV 2", "CSV 1", "CSV 0"]
    assert {r[2] for r in rows[1:]} == {"Tạm ngừng cổng địa phương"}
    assert {r[3] for r in rows[1:]} == {"Tỉnh Tải Xuống"}
    assert "tenant.suspended" not in body and "platform_admin:" not in body

    bad = await viewer.get("/audit.csv", params={"since": "31/02/2026"})
    assert bad.status_code == 400 and "error-summary" in bad.text


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"since": "2026-02-30"}, "since", "Ngày bắt đầu phải là một ngày có thật"),
        ({"until": "hôm qua"}, "until", "Ngày kết thúc phải là một ngày có thật"),
        (
            {"since": "2026-12-02", "until": "2026-12-01"},
            "until",
            "Ngày kết thúc phải bằng hoặc sau ngày bắt đầu",
        ),
        ({"since": "1850-01-01"}, "since", "Ngày bắt đầu phải là một ngày có thật"),
        ({"personal_id": "0791"}, "personal_id", "Số định danh cá nhân phải gồm đúng 12 chữ số"),
        ({"tenant": "khong-co-dau"}, "tenant", "Chọn một địa phương trong danh sách"),
        ({"action": "tenant.suspended"}, "action", "Chọn một thao tác trong danh sách"),
        ({"actor_kind": "root"}, "actor_kind", "Chọn vai trò người thực hiện trong danh sách"),
        ({"cursor": "1' OR 1=1"}, "audit-filter", "Đường dẫn trang không hợp lệ"),
    ],
)
async def test_bad_filters_get_the_error_summary_and_no_rows(
    signed_in: Browser,
    make_tenant: MakeTenant,
    engine: Engine,
    params: dict[str, str],
    field: str,
    message: str,
) -> None:
    tenant = make_tenant()
    _cycle(engine, tenant, Actor.platform_admin(new_personal_id()), ["Không được hiện"])
    viewer = await signed_in()
    rows_before = _count(engine)
    response = await viewer.get("/audit", params=params)
    assert _count(engine) == rows_before
    assert response.status_code == 400
    assert 'class="notice notice-error error-summary"' in response.text
    assert re.search(rf'<a href="#{field}">{message}[^<]*</a>', response.text), response.text[-3000:]
    assert "Không được hiện" not in response.text and "<tbody>" not in response.text
    if field in ("since", "until", "personal_id"):
        assert f'value="{params[field]}"' in response.text  # what was typed is kept
        assert 'aria-invalid="true"' in response.text


# Authorisation ----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/audit", "/audit.csv"])
async def test_only_platform_administrators_see_the_audit(
    signed_in: Browser, anonymous: httpx.AsyncClient, make_tenant: MakeTenant, engine: Engine, path: str
) -> None:
    tenant = make_tenant(name="Tỉnh Kín Đáo")
    _cycle(engine, tenant, Actor.platform_admin(new_personal_id()), ["Bí mật nội bộ"])

    assert refused(await anonymous.get(path))
    nobody = await signed_in(role="none")
    assert (await nobody.get(path)).status_code == 403
    for role in ("citizen", "officer", "tenant_admin"):
        browser = await signed_in(tenant, role=role)
        # A tenant session presented to the console host is nobody's there.
        browser.cookies.set(SESSION_COOKIE, browser.cookies[SESSION_COOKIE], domain="admin.localhost")
        response = await browser.get(CONSOLE + path)
        assert refused(response), role
        assert "Bí mật nội bộ" not in response.text
        on_tenant = await browser.get(f"http://{tenant.slug}.localhost/console{path}")
        assert refused(on_tenant) or on_tenant.status_code == 404, role
        assert "Bí mật nội bộ" not in on_tenant.text
    admin = await signed_in()
    allowed = await admin.get(path, params={"tenant": tenant.slug})
    assert allowed.status_code == 200
    assert "Bí mật nội bộ" in allowed.content.decode("utf-8-sig")


async def test_the_english_page_translates_the_words(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant()
    _cycle(engine, tenant, Actor.platform_admin(new_personal_id()), ["Kiểm tra tiếng Anh"])
    viewer = await signed_in()
    await viewer.get("/lang/en", params={"next": "/audit"})
    page = await viewer.get("/audit", params={"tenant": tenant.slug})
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    assert "tenant.suspended" not in page.text


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM platform.audit_log")).scalar_one())
