"""A portal's theme colours, logo, agency code and working calendar, edited from /manage by its
own administrators and from the console by platform administrators."""

from __future__ import annotations

import io
import os
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar
from PIL import Image
from sqlalchemy import Engine, text

from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import VIETNAM, DurationUnit, due_date
from motcua.dossiers.services import calendar_for
from tests.admin.conftest import CONSOLE, Browser
from tests.conftest import MakeTenant, asgi_transport
from tests.dossiers.conftest import BIRTH, PDF

THEME = "/manage/settings/appearance"
CALENDAR = "/manage/settings/calendar"


# Helpers ------------------------------------------------------------------------------------------
def image(width: int = 40, height: int = 40, fmt: str = "PNG", *, noise: bool = False) -> bytes:
    out = io.BytesIO()
    if noise:  # incompressible: the file is as large as its pixels
        picture = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    else:
        picture = Image.new("RGB", (width, height), (160, 20, 20))
    picture.save(out, fmt)
    return out.getvalue()


def token_of(page: httpx.Response) -> str:
    """The CSRF token every page carries (htmx's header, or a form's hidden field)."""
    match = re.search(r'"X-CSRF-Token": "([^"]+)"', page.text) or re.search(
        r'name="_csrf_token" value="([^"]+)"', page.text
    )
    assert match is not None, page.text[:500]
    return match.group(1)


async def token(client: httpx.AsyncClient, path: str = "/") -> str:
    return token_of(await client.get(path))


def stored(engine: Engine, slug: str) -> tuple[dict[str, Any], dict[str, Any]]:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT branding, settings FROM platform.tenants WHERE slug = :s"), {"s": slug}
        ).one()
    return dict(row.branding or {}), dict(row.settings or {})


def audit(engine: Engine, slug: str) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT action, actor, detail FROM platform.audit_log WHERE tenant_slug = :s ORDER BY id"
                ),
                {"s": slug},
            ).all()
        )


def files_of(settings: Settings, tenant: Tenant) -> list[Path]:
    root = settings.data_dir / "files" / tenant.schema
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def day_in_next_year(*, weekday: int) -> date:
    """A working day of next year in March (no national holiday then) with the given weekday."""
    day = date(datetime.now(VIETNAM).year + 1, 3, 2)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day


def next_saturday_next_year() -> date:
    return day_in_next_year(weekday=5)


# Colours --------------------------------------------------------------------------------------------
async def test_colours_changed_from_manage_show_on_the_next_page(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant()
    admin = await signed_in(tenant, role="tenant_admin")
    form = await admin.get(THEME)
    assert form.status_code == 200
    assert 'id="header-preview"' in form.text
    saved = await admin.post(
        f"{THEME}/colours",
        data={"_csrf_token": token_of(form), "primary": "#7A1F1F", "accent": "#ffcc00"},
    )
    assert saved.status_code == 303, saved.text[:2000]
    assert saved.headers["location"] == f"{THEME}?saved=colours"
    assert "Đã lưu màu sắc mới." in (await admin.get(saved.headers["location"])).text

    home = await admin.get("/")
    assert "/static/branding.css?primary=%237a1f1f&amp;accent=%23ffcc00" in home.text
    css = await admin.get("/static/branding.css", params={"primary": "#7a1f1f", "accent": "#ffcc00"})
    assert "--primary: #7a1f1f;" in css.text
    branding, _ = stored(engine, tenant.slug)
    assert (branding["primary"], branding["accent"]) == ("#7a1f1f", "#ffcc00")
    action, actor, detail = audit(engine, tenant.slug)[-1]
    assert action == "tenant.theme_changed"
    assert actor.startswith("tenant_admin:")
    assert detail["primary"] == "#7a1f1f" and "address" in detail


async def test_a_low_contrast_or_malformed_colour_is_refused_with_its_ratio(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant()
    admin = await signed_in(tenant, role="tenant_admin")
    before = stored(engine, tenant.slug)
    csrf = await token(admin, THEME)
    pale = await admin.post(
        f"{THEME}/colours", data={"_csrf_token": csrf, "primary": "#ffcc00", "accent": "#000000"}
    )
    assert pale.status_code == 400
    assert 'id="error-summary"' in pale.text
    # #ffcc00 on white: (1 + 0.05) / (0.644 + 0.05) = 1.51.
    assert "1,51:1" in pale.text and "4,5:1" in pale.text
    assert 'href="#primary"' in pale.text
    assert 'value="#ffcc00"' in pale.text and 'aria-invalid="true"' in pale.text
    assert "<title>Lỗi:" in pale.text

    wrong = await admin.post(
        f"{THEME}/colours", data={"_csrf_token": csrf, "primary": "đỏ" * 300, "accent": ""}
    )
    assert wrong.status_code == 400
    assert "Mã màu phải có dạng # và 6 chữ số hệ mười sáu" in wrong.text
    assert "Vui lòng nhập mã màu." in wrong.text
    assert 'href="#accent"' in wrong.text
    assert stored(engine, tenant.slug) == before
    assert [a for a, _, _ in audit(engine, tenant.slug)] == ["tenant.onboarding_started", "tenant.activated"]


async def test_the_preview_shows_the_header_in_the_typed_colours(
    signed_in: Browser, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant()
    admin = await signed_in(tenant, role="tenant_admin")
    good = await admin.get(f"{THEME}/preview", params={"primary": "#1d3557", "accent": "#e63946"})
    assert good.status_code == 200
    assert "scope=preview" in good.text and "%231d3557" in good.text
    assert ", đạt" in good.text
    pale = await admin.get(f"{THEME}/preview", params={"primary": "#ffff00", "accent": "#000000"})
    assert "chưa đạt" in pale.text
    unfinished = await admin.get(f"{THEME}/preview", params={"primary": "#12", "accent": "#000000"})
    assert "Nhập hai mã màu hợp lệ" in unfinished.text
    css = await admin.get("/static/branding.css", params={"primary": "#1d3557", "scope": "preview"})
    assert css.text.startswith(".branding-preview {")


# Logo ---------------------------------------------------------------------------------------------
async def test_an_uploaded_logo_shows_on_the_portal_and_is_served_content_addressed(
    signed_in: Browser,
    make_tenant: MakeTenant,
    engine: Engine,
    live_settings: Settings,
    client: httpx.AsyncClient,
) -> None:
    tenant = make_tenant()
    other = make_tenant()
    admin = await signed_in(tenant, role="tenant_admin")
    logo = image(64, 48)
    done = await admin.post(
        f"{THEME}/logo",
        data={"_csrf_token": await token(admin, THEME)},
        files={"logo": ("logo.png", logo, "image/png")},
    )
    assert done.status_code == 303, done.text[:2000]
    branding, _ = stored(engine, tenant.slug)
    url = branding["logo_url"]
    assert re.fullmatch(r"/branding/logo/[0-9a-f]{64}\.png", url)
    home = await admin.get("/")
    assert f'<img class="brand-logo" src="{url}"' in home.text

    served = await client.get(url, headers={"host": f"{tenant.slug}.localhost"})
    assert served.status_code == 200
    assert served.content == logo
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert (
        "immutable" in served.headers["cache-control"]
        and "max-age=31536000" in served.headers["cache-control"]
    )
    assert "set-cookie" not in served.headers
    # Another portal's host knows no such logo.
    assert (await client.get(url, headers={"host": f"{other.slug}.localhost"})).status_code == 404
    assert (
        await client.get(url[:-4] + ".jpg", headers={"host": f"{tenant.slug}.localhost"})
    ).status_code == 404

    # A new logo replaces the old file; removing it (after confirming) leaves none.
    second = image(30, 30, "JPEG")
    replaced = await admin.post(
        f"{THEME}/logo",
        data={"_csrf_token": await token(admin, THEME)},
        files={"logo": ("logo.jpg", second, "image/jpeg")},
    )
    assert replaced.status_code == 303
    assert len(files_of(live_settings, tenant)) == 1
    assert (await client.get(url, headers={"host": f"{tenant.slug}.localhost"})).status_code == 404
    confirm = await admin.get(f"{THEME}/logo/remove")
    assert confirm.status_code == 200 and "Gỡ logo đã tải lên?" in confirm.text
    removed = await admin.post(f"{THEME}/logo/remove", data={"_csrf_token": token_of(confirm)})
    assert removed.status_code == 303
    assert "brand-logo" not in (await admin.get("/")).text
    assert files_of(live_settings, tenant) == []
    assert "logo_url" not in stored(engine, tenant.slug)[0]
    assert (await admin.get(f"{THEME}/logo/remove")).status_code == 404
    actions = [a for a, _, _ in audit(engine, tenant.slug)]
    assert actions[-3:] == ["tenant.logo_changed", "tenant.logo_changed", "tenant.logo_removed"]


async def test_bad_logos_are_refused_and_nothing_is_stored(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    tenant = make_tenant()
    admin = await signed_in(tenant, role="tenant_admin")
    before = stored(engine, tenant.slug)
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    cases = [
        (("logo.svg", svg, "image/svg+xml"), "Không nhận ảnh SVG"),
        (("logo.png", image() + b"<script>alert(1)</script>", "image/png"), "nội dung lạ ngoài phần ảnh"),
        (("logo.png", "không phải ảnh".encode(), "image/png"), "Chỉ nhận ảnh PNG, JPEG hoặc WebP"),
        (("logo.png", image(500, 500, noise=True), "image/png"), "Tệp ảnh quá lớn: tối đa 512 KB."),
        (("logo.png", image(1100, 8), "image/png"), "Ảnh quá lớn: 1100×8 điểm ảnh"),
        (("logo.png", image()[:-30], "image/png"), "nội dung lạ ngoài phần ảnh"),
        (("logo.png", b"", "image/png"), "Tệp rỗng"),
    ]
    for upload, message in cases:
        response = await admin.post(
            f"{THEME}/logo", data={"_csrf_token": await token(admin, THEME)}, files={"logo": upload}
        )
        assert response.status_code == 400, (upload[0], response.status_code)
        assert message in response.text, (message, response.text[:3000])
        assert 'href="#logo"' in response.text
    missing = await admin.post(f"{THEME}/logo", data={"_csrf_token": await token(admin, THEME)}, files={})
    assert missing.status_code == 400
    assert "Vui lòng chọn tệp ảnh logo." in missing.text
    assert files_of(live_settings, tenant) == []
    assert stored(engine, tenant.slug) == before


# Agency code ------------------------------------------------------------------------------------------
async def test_the_agency_code_numbers_the_next_dossier(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    procedure = {k: v for k, v in BIRTH.items() if k != "agency_code"}
    tenant = make_tenant(procedures=[procedure])
    admin = await signed_in(tenant, role="tenant_admin")
    csrf = await token(admin, THEME)
    bad = await admin.post(f"{THEME}/agency-code", data={"_csrf_token": csrf, "agency_code": "H26-abc"})
    assert bad.status_code == 400
    assert 'value="H26-abc"' in bad.text and 'href="#agency_code"' in bad.text
    assert "Mã cơ quan phải có dạng 000.00.00.A00" in bad.text
    assert "agency_code" not in stored(engine, tenant.slug)[1]
    saved = await admin.post(
        f"{THEME}/agency-code", data={"_csrf_token": csrf, "agency_code": "000.00.07.h99"}
    )
    assert saved.status_code == 303
    assert stored(engine, tenant.slug)[1]["agency_code"] == "000.00.07.H99"
    assert audit(engine, tenant.slug)[-1].action == "tenant.agency_code_changed"

    citizen = await signed_in(tenant, role="citizen")
    csrf = await token(citizen, "/procedures/1.001193/apply")
    uploaded = await citizen.post(
        "/procedures/1.001193/apply/files/to-khai",
        data={"_csrf_token": csrf},
        files={"file": ("tờ khai.pdf", PDF, "application/pdf")},
    )
    assert uploaded.status_code == 303
    answers = {
        "child_full_name": "Nguyễn Minh Khôi",
        "child_birth_date": date.today().isoformat(),
        "mother_full_name": "Nguyễn Thị Mai",
        "mother_personal_id": "001190001234",
        "has_father": "Không",
    }
    assert (
        await citizen.post("/procedures/1.001193/apply", data={"_csrf_token": csrf, **answers})
    ).status_code == 303
    delivery = {"_csrf_token": csrf, "delivery_method": "desk"}
    assert (await citizen.post("/procedures/1.001193/apply/delivery", data=delivery)).status_code == 303
    review = await citizen.get("/procedures/1.001193/apply/review")
    submit_token = re.search(r'name="token" value="([^"]+)"', review.text)
    assert submit_token is not None
    done = await citizen.post(
        "/procedures/1.001193/apply/submit",
        data={"_csrf_token": csrf, "token": submit_token.group(1), "declaration": "yes"},
    )
    assert done.status_code == 303
    assert re.search(r"000\.00\.07\.H99-\d{6}-0001", done.headers["location"])


# Working calendar -----------------------------------------------------------------------------------
async def test_a_day_off_moves_due_dates_and_can_be_removed(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant()
    admin = await signed_in(tenant, role="tenant_admin")
    page = await admin.get(CALENDAR)
    assert page.status_code == 200
    year = datetime.now(VIETNAM).year
    assert f"Năm {year + 1}" in page.text
    assert "Quốc khánh" in page.text  # the national holidays the calendar already knows

    wednesday = day_in_next_year(weekday=2)
    received = datetime.combine(wednesday - timedelta(days=1), time(9, 0), tzinfo=VIETNAM)

    def due() -> datetime:
        _, settings = stored(engine, tenant.slug)
        calendar = calendar_for(Tenant(**{**_fields(tenant), "settings": settings}))
        return due_date(calendar, received, 1, DurationUnit.WORKING_DAYS)

    before = due()
    added = await admin.post(
        f"{CALENDAR}/days",
        data={
            "_csrf_token": token_of(page),
            "day": wednesday.isoformat(),
            "kind": "day_off",
            "name": "Lễ hội địa phương",
        },
    )
    assert added.status_code == 303, added.text[:3000]
    assert due() - before == timedelta(days=1)
    listed = await admin.get(CALENDAR)
    assert "Lễ hội địa phương" in listed.text
    assert wednesday.strftime("%d/%m/%Y") in listed.text
    _, settings = stored(engine, tenant.slug)
    assert settings["working_calendar"]["days_off"] == [wednesday.isoformat()]
    assert settings["calendar_day_names"] == {wednesday.isoformat(): "Lễ hội địa phương"}

    saturday = next_saturday_next_year()
    makeup = await admin.post(
        f"{CALENDAR}/days",
        data={
            "_csrf_token": token_of(page),
            "day": saturday.isoformat(),
            "kind": "makeup_day",
            "name": "Làm bù",
        },
    )
    assert makeup.status_code == 303
    assert stored(engine, tenant.slug)[1]["working_calendar"]["makeup_days"] == [saturday.isoformat()]

    remove = f"{CALENDAR}/days/{wednesday.isoformat()}/remove"
    confirm = await admin.get(remove)
    assert confirm.status_code == 200 and "Xoá ngày này khỏi lịch?" in confirm.text
    assert (await admin.post(remove, data={"_csrf_token": token_of(confirm)})).status_code == 303
    assert due() == before
    assert stored(engine, tenant.slug)[1]["working_calendar"]["days_off"] == []
    assert (await admin.get(remove)).status_code == 404
    assert (await admin.get(f"{CALENDAR}/days/not-a-day/remove")).status_code == 404
    actions = [a for a, _, _ in audit(engine, tenant.slug)]
    assert actions[-3:] == ["tenant.calendar_changed"] * 3


def _fields(tenant: Tenant) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "slug": tenant.slug,
        "name": tenant.name,
        "kind": tenant.kind,
        "status": tenant.status,
        "schema": tenant.schema,
    }


async def test_bad_calendar_days_are_refused_and_change_nothing(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant()
    admin = await signed_in(tenant, role="tenant_admin")
    csrf = await token(admin, CALENDAR)
    wednesday = day_in_next_year(weekday=2)
    first = await admin.post(
        f"{CALENDAR}/days",
        data={"_csrf_token": csrf, "day": wednesday.isoformat(), "kind": "day_off", "name": "Nghỉ"},
    )
    assert first.status_code == 303
    before = stored(engine, tenant.slug)
    next_year = datetime.now(VIETNAM).year + 1
    cases: list[tuple[dict[str, str], list[str]]] = [
        (
            {"day": "", "kind": "", "name": ""},
            ["Vui lòng nhập ngày.", "Vui lòng chọn loại ngày.", "Vui lòng nhập tên ngày"],
        ),
        ({"day": f"{next_year}-02-30", "kind": "day_off", "name": "X"}, ["Ngày phải là một ngày có thật"]),
        ({"day": "2000-01-03", "kind": "day_off", "name": "X"}, ["Chỉ thêm được ngày trong năm"]),
        (
            {"day": next_saturday_next_year().isoformat(), "kind": "day_off", "name": "X"},
            ["vốn đã là ngày nghỉ"],
        ),
        ({"day": f"{next_year}-09-02", "kind": "day_off", "name": "X"}, ["vốn đã là ngày nghỉ"]),
        (
            {"day": day_in_next_year(weekday=3).isoformat(), "kind": "makeup_day", "name": "X"},
            ["vốn đã là ngày làm việc"],
        ),
        ({"day": wednesday.isoformat(), "kind": "day_off", "name": "Lại"}, ["Ngày này đã có trong lịch"]),
        (
            {"day": day_in_next_year(weekday=3).isoformat(), "kind": "day_off", "name": "ư" * 101},
            ["Tên ngày dài tối đa 100 ký tự."],
        ),
        (
            {"day": day_in_next_year(weekday=3).isoformat(), "kind": "holiday", "name": "X"},
            ["Vui lòng chọn loại ngày."],
        ),
    ]
    for form, messages in cases:
        response = await admin.post(f"{CALENDAR}/days", data={"_csrf_token": csrf, **form})
        assert response.status_code == 400, form
        assert 'id="error-summary"' in response.text
        for message in messages:
            assert message in response.text, (message, form)
        if form["name"] and len(form["name"]) < 100:
            assert f'value="{form["name"]}"' in response.text
        if form["day"]:
            assert f'value="{form["day"]}"' in response.text
    assert stored(engine, tenant.slug) == before


# The console --------------------------------------------------------------------------------------
async def test_platform_administrators_edit_any_portal_from_the_console(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine, client: httpx.AsyncClient
) -> None:
    tenant = make_tenant()
    admin = await signed_in()
    base = f"/tenants/{tenant.slug}/settings"
    page = await admin.get(f"{base}/appearance")
    assert page.status_code == 200
    assert tenant.name in page.text
    csrf = token_of(page)
    refused = await admin.post(
        f"{base}/appearance/colours", data={"_csrf_token": csrf, "primary": "#eeeeee", "accent": "#000000"}
    )
    assert refused.status_code == 400 and 'href="#primary"' in refused.text
    saved = await admin.post(
        f"{base}/appearance/colours", data={"_csrf_token": csrf, "primary": "#003366", "accent": "#ffd700"}
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{base}/appearance?saved=colours"
    assert stored(engine, tenant.slug)[0]["primary"] == "#003366"
    assert audit(engine, tenant.slug)[-1].actor.startswith("platform_admin:")

    logo = image(20, 20, "WEBP")
    uploaded = await admin.post(
        f"{base}/appearance/logo", data={"_csrf_token": csrf}, files={"logo": ("l.webp", logo, "image/webp")}
    )
    assert uploaded.status_code == 303, uploaded.text[:2000]
    url = stored(engine, tenant.slug)[0]["logo_url"]
    shown = await admin.get(f"{base}/appearance")
    copy = re.search(rf'src="({base}/appearance/logo/[0-9a-f]{{64}}\.webp)"', shown.text)
    assert copy is not None
    assert (await admin.get(copy.group(1))).content == logo
    assert "Gỡ logo đã tải lên?" in (await admin.get(f"{base}/appearance/logo/remove")).text
    public = await client.get(url, headers={"host": f"{tenant.slug}.localhost"})
    assert public.headers["content-type"] == "image/webp" and public.content == logo

    assert (
        await admin.post(
            f"{base}/appearance/agency-code", data={"_csrf_token": csrf, "agency_code": "000.00.00.G12"}
        )
    ).status_code == 303
    day = day_in_next_year(weekday=1)
    calendar = await admin.get(f"{base}/calendar")
    assert calendar.status_code == 200
    added = await admin.post(
        f"{base}/calendar/days",
        data={"_csrf_token": csrf, "day": day.isoformat(), "kind": "day_off", "name": "Nghỉ thêm"},
    )
    assert added.status_code == 303
    assert (await admin.get(f"{base}/calendar/days/{day.isoformat()}/remove")).status_code == 200
    assert (
        await admin.post(f"{base}/calendar/days/{day.isoformat()}/remove", data={"_csrf_token": csrf})
    ).status_code == 303
    # Both pages in English too (the UI language is a cookie).
    admin.cookies.set("motcua_lang", "en", domain="admin.localhost")
    for path in (f"{base}/appearance", f"{base}/calendar"):
        english = await admin.get(path)
        assert english.status_code == 200 and '<html lang="en">' in english.text
    assert (await admin.get("/tenants/no-such-portal/settings/appearance")).status_code == 404
    assert (await admin.get(f"/tenants/{'x' * 200}/settings/calendar")).status_code == 404


# Who may ------------------------------------------------------------------------------------------
def _routes(base: str, day: str) -> list[tuple[str, str, dict[str, str]]]:
    return [
        ("GET", f"{base}/appearance", {}),
        ("GET", f"{base}/appearance/preview?primary=%23000000&accent=%23ffffff", {}),
        ("POST", f"{base}/appearance/colours", {"primary": "#000000", "accent": "#ffffff"}),
        ("POST", f"{base}/appearance/agency-code", {"agency_code": "000.00.00.G99"}),
        ("POST", f"{base}/appearance/logo", {}),
        ("GET", f"{base}/appearance/logo/remove", {}),
        ("POST", f"{base}/appearance/logo/remove", {}),
        ("GET", f"{base}/calendar", {}),
        ("POST", f"{base}/calendar/days", {"day": day, "kind": "day_off", "name": "X"}),
        ("GET", f"{base}/calendar/days/{day}/remove", {}),
        ("POST", f"{base}/calendar/days/{day}/remove", {}),
    ]


async def _refused(
    client: httpx.AsyncClient, routes: list[tuple[str, str, dict[str, str]]], csrf: str
) -> None:
    for method, path, form in routes:
        if method == "GET":
            response = await client.get(path)
            refused = response.status_code == 403 or (
                response.status_code == 303 and response.headers["location"].startswith("/login")
            )
        else:
            files = {"logo": ("l.png", image(), "image/png")} if path.endswith("/logo") else None
            response = await client.post(path, data={"_csrf_token": csrf, **form}, files=files)
            refused = response.status_code in (401, 403)
        assert refused, (method, path, response.status_code)


async def test_only_the_portals_own_administrators_reach_its_manage_pages(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine, app: Litestar
) -> None:
    tenant = make_tenant()
    other = make_tenant()
    day = day_in_next_year(weekday=1).isoformat()
    routes = _routes("/manage/settings", day)
    before = stored(engine, tenant.slug)
    anonymous = httpx.AsyncClient(transport=asgi_transport(app), base_url=f"http://{tenant.slug}.localhost")
    try:
        await _refused(anonymous, routes, await token(anonymous))
    finally:
        await anonymous.aclose()
    for role in ("citizen", "officer"):
        browser = await signed_in(tenant, role=role)
        await _refused(browser, routes, await token(browser))
    # An administrator of another portal, on this portal's host: a role there grants nothing here.
    stranger = await signed_in(other, role="tenant_admin")
    stranger_here = httpx.AsyncClient(
        transport=asgi_transport(app), base_url=f"http://{tenant.slug}.localhost"
    )
    try:
        for name, value in stranger.cookies.items():
            stranger_here.cookies.set(name, value, domain=f"{tenant.slug}.localhost")
        await _refused(stranger_here, routes, await token(stranger_here))
    finally:
        await stranger_here.aclose()
    assert stored(engine, tenant.slug) == before
    # The console's routes, with a tenant's administrators: not a console session, so refused.
    console_routes = _routes(f"{CONSOLE}/tenants/{tenant.slug}/settings", day)
    owner = await signed_in(tenant, role="tenant_admin")
    await _refused(owner, console_routes, await token(owner))
    assert (
        await owner.get(f"{CONSOLE}/tenants/{tenant.slug}/settings/appearance/logo/{'0' * 64}.png")
    ).status_code in (303, 403)
    assert stored(engine, tenant.slug) == before
    # ...while the portal's own administrator reaches /manage.
    assert (await owner.get(THEME)).status_code == 200
    assert (await owner.get(CALENDAR)).status_code == 200


async def test_only_platform_administrators_reach_the_console_pages(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine, app: Litestar
) -> None:
    tenant = make_tenant()
    day = day_in_next_year(weekday=1).isoformat()
    routes = _routes(f"/tenants/{tenant.slug}/settings", day)
    before = stored(engine, tenant.slug)
    anonymous = httpx.AsyncClient(transport=asgi_transport(app), base_url=CONSOLE)
    try:
        await _refused(anonymous, routes, await token(anonymous))
    finally:
        await anonymous.aclose()
    nobody = await signed_in(role="none")  # signed in to the console, without the role
    await _refused(nobody, routes, await token(nobody))
    assert stored(engine, tenant.slug) == before
    admin = await signed_in()
    for path in (f"/tenants/{tenant.slug}/settings/appearance", f"/tenants/{tenant.slug}/settings/calendar"):
        assert (await admin.get(path)).status_code == 200
