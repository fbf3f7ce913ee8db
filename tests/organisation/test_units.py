"""Units of a tenant (organisation): seeded at onboarding from the national list, managed at
/manage/units by the tenant administrator only, every change validated, audited, and shown in
words."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from alembic import command as alembic_command
from alembic.config import Config
from sqlalchemy import Engine, text

from motcua.admin.audit_words import action_words, detail_lines
from motcua.admin.services import build_spec, onboard_tenant
from motcua.core.audit import Actor
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.identity.sessions import SESSION_COOKIE
from motcua.organisation.seeding import province_units, seed_units_on, starting_units
from motcua.organisation.services import AGENCY_CODE
from motcua.tenancy.migrate import migrate_tenant_schema
from tests.admin.conftest import Browser, csrf_of
from tests.conftest import MakeTenant, asgi_transport, unique_slug
from tests.test_cli import run_cli


def _units(engine: Engine, tenant: Tenant) -> list[tuple[str, str, str, str | None]]:
    with engine.connect() as conn:
        return [
            (r.kind, r.name, r.agency_code, r.parent_code)
            for r in conn.execute(
                text(
                    "SELECT u.kind, u.name, u.agency_code, p.agency_code AS parent_code"
                    f" FROM {tenant.schema}.units u"
                    f" LEFT JOIN {tenant.schema}.units p ON p.id = u.parent_id ORDER BY u.id"
                )
            )
        ]


def _audit(engine: Engine, tenant: Tenant) -> list[tuple[str, dict[str, object]]]:
    with engine.connect() as conn:
        return [
            (r.action, r.detail)
            for r in conn.execute(text(f"SELECT action, detail FROM {tenant.schema}.audit_log ORDER BY id"))
            if r.action.startswith("unit.")
        ]


@pytest.fixture(scope="module")
def hanoi(engine: Engine, live_settings: Settings) -> Tenant:
    """A province onboarded the way the console onboards one: its locality in its settings."""
    spec = build_spec(
        slug=unique_slug(),
        name="Cổng thử nghiệm Hà Nội",
        kind="province",
        settings={"locality": {"code": "01", "name": "Thành phố Hà Nội"}, "agency_code": "000.00.01.H26"},
    )
    return onboard_tenant(engine, live_settings, spec, actor=Actor.operator("test"))


def test_a_province_starts_with_its_service_centre_departments_and_every_commune(
    engine: Engine, hanoi: Tenant
) -> None:
    units = _units(engine, hanoi)
    kinds = [kind for kind, *_ in units]
    # Hà Nội since 1 July 2025: 126 communes and wards (75 xã, 51 phường), 13 departments.
    assert kinds.count("commune") == 75 and kinds.count("ward") == 51
    assert kinds.count("department") == 13 and kinds.count("service_centre") == 1
    centre = units[0]
    assert centre == ("service_centre", "Trung tâm Phục vụ hành chính công", "000.00.01.H26", None)
    assert all(parent == "000.00.01.H26" for *_, parent in units[1:])
    codes = [code for _, _, code, _ in units]
    assert len(set(codes)) == len(codes) and all(AGENCY_CODE.fullmatch(c) for c in codes)
    assert ("ward", "Phường Hoàn Kiếm", "000.70.00.H26", "000.00.01.H26") in units
    assert ("department", "Sở Tư pháp", "000.00.04.H26", "000.00.01.H26") in units
    # Seeding again (an onboarding re-run) adds nothing.
    with engine.begin() as conn:
        conn.execute(text(f"SET LOCAL search_path TO {hanoi.schema}, platform"))
        assert seed_units_on(conn, province_units(1, "000.00.01.H26")) == 0
    assert len(_units(engine, hanoi)) == len(units)


def test_a_tenant_without_a_locality_starts_with_its_desk_and_a_ministry_with_its_office(
    engine: Engine, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant()
    assert [kind for kind, *_ in _units(engine, tenant)] == ["service_centre"]
    ministry = starting_units("ministry", {"agency_code": "000.00.00.G12"})
    assert [(u.kind.value, u.name, u.agency_code) for u in ministry] == [
        ("service_centre", "Bộ phận Một cửa", "000.00.00.G12"),
        ("department", "Văn phòng Bộ", "000.00.02.G12"),
    ]
    # Every province of the national list seeds distinct, well-formed codes.
    for code in (1, 48, 79):
        specs = province_units(code, "000.00.01.H99")
        assert len({s.agency_code for s in specs}) == len(specs)


async def test_the_administrator_adds_edits_closes_units_and_gives_roles(
    signed_in: Browser, engine: Engine, hanoi: Tenant
) -> None:
    admin = await signed_in(hanoi, role="tenant_admin", name="Lê Thị Quản Trị")
    listing = await admin.get("/manage/units")
    assert listing.status_code == 200
    assert "Phường Hoàn Kiếm" in listing.text and "Sở, ban, ngành" in listing.text
    assert "service_centre" not in re.sub(r"<[^>]+>", "", listing.text)  # kinds in words
    token = await csrf_of(admin, "/manage/units")
    centre = r'<option lang="vi" value="(\d+)"[^>]*>Trung tâm Phục vụ hành chính công'
    centre_id = re.search(centre, listing.text)
    assert centre_id is not None

    # Bad input: every problem named beside its field, nothing written.
    bad = await admin.post(
        "/manage/units",
        data={
            "_csrf_token": token,
            "name": "",
            "kind": "castle",
            "agency_code": "H26",
            "parent_id": "999999",
        },
    )
    assert bad.status_code == 400
    for message in (
        "Nhập tên đơn vị.",
        "Chọn loại đơn vị trong danh sách.",
        "Mã cơ quan có dạng",
        "Chọn đơn vị cấp trên",
    ):
        assert message in bad.text
    taken = await admin.post(
        "/manage/units",
        data={
            "_csrf_token": token,
            "name": "Sở Du lịch",
            "kind": "department",
            "agency_code": "000.00.04.H26",
        },
    )
    assert taken.status_code == 400 and "đã được dùng" in taken.text and 'value="Sở Du lịch"' in taken.text

    added = await admin.post(
        "/manage/units",
        data={
            "_csrf_token": token,
            "name": "  Sở   Du lịch ",
            "kind": "department",
            "agency_code": "000.00.30.h26",
            "parent_id": centre_id.group(1),
        },
    )
    assert added.status_code == 303
    unit_url = added.headers["location"].split("?")[0]
    shown = await admin.get(added.headers["location"])
    assert (
        "Đã thêm đơn vị." in shown.text
        and '<h1 lang="vi">Sở Du lịch</h1>' in shown.text
        and "000.00.30.H26" in shown.text
    )

    # A person given two roles, then one taken back after a confirmation page.
    for role in ("specialist", "leader"):
        given = await admin.post(
            f"{unit_url}/staff",
            data={
                "_csrf_token": token,
                "action": "add",
                "full_name": "Phạm Văn Chuyên",
                "personal_id": "001085009999",
                "role": role,
            },
        )
        assert given.status_code == 303 and "staff_added" in given.headers["location"]
    again = await admin.post(
        f"{unit_url}/staff",
        data={
            "_csrf_token": token,
            "action": "add",
            "full_name": "X",
            "personal_id": "001085009999",
            "role": "leader",
        },
    )
    assert "staff_already" in again.headers["location"]
    bad_staff = await admin.post(
        f"{unit_url}/staff",
        data={"_csrf_token": token, "action": "add", "full_name": "", "personal_id": "12", "role": "boss"},
    )
    assert bad_staff.status_code == 400
    assert (
        "Số định danh cá nhân phải gồm đúng 12 chữ số." in bad_staff.text
        and "Nhập họ và tên cán bộ." in bad_staff.text
    )
    page = (await admin.get(unit_url)).text
    visible = re.sub(r"<[^>]+>", " ", page)
    assert "Phạm Văn Chuyên" in visible and "Chuyên viên xử lý" in visible and "Lãnh đạo" in visible
    assert "001085009999" not in visible and "specialist" not in visible  # masked ID, roles in words
    ask = await admin.post(
        f"{unit_url}/staff",
        data={"_csrf_token": token, "action": "remove", "personal_id": "001085009999", "role": "leader"},
    )
    assert ask.status_code == 200 and "Thu hồi vai trò?" in ask.text
    removed = await admin.post(
        f"{unit_url}/staff",
        data={
            "_csrf_token": token,
            "action": "remove",
            "confirm": "yes",
            "personal_id": "001085009999",
            "role": "leader",
        },
    )
    assert "staff_removed" in removed.headers["location"]

    # Edit: a unit cannot move under itself; a rename and re-code are kept.
    unit_id = unit_url.rsplit("/", 1)[1]
    loop = await admin.post(
        unit_url,
        data={
            "_csrf_token": token,
            "action": "edit",
            "name": "Sở Du lịch",
            "agency_code": "000.00.30.H26",
            "parent_id": unit_id,
        },
    )
    assert loop.status_code == 400 and "Không thể đặt một đơn vị dưới chính nó" in loop.text
    edited = await admin.post(
        unit_url,
        data={
            "_csrf_token": token,
            "action": "edit",
            "name": "Sở Du lịch Hà Nội",
            "agency_code": "000.00.31.H26",
            "parent_id": centre_id.group(1),
        },
    )
    assert "done=changed" in edited.headers["location"]

    # Closing asks first; the root unit cannot be closed at all.
    confirm = await admin.post(unit_url, data={"_csrf_token": token, "action": "close"})
    assert confirm.status_code == 200 and "Đóng đơn vị Sở Du lịch Hà Nội?" in confirm.text
    closed = await admin.post(unit_url, data={"_csrf_token": token, "action": "close", "confirm": "yes"})
    assert "done=closed" in closed.headers["location"]
    root = await admin.post(
        f"/manage/units/{centre_id.group(1)}",
        data={"_csrf_token": token, "action": "close", "confirm": "yes"},
    )
    assert root.status_code == 409 and "Không thể đóng đơn vị gốc" in root.text

    assert [action for action, _ in _audit(engine, hanoi)] == [
        "unit.created",
        "unit.staff_added",
        "unit.staff_added",
        "unit.staff_removed",
        "unit.changed",
        "unit.closed",
    ]
    assert (await admin.get("/manage/units/987654321")).status_code == 404


HOSTILE = {
    "name": "Sở Giả",
    "kind": "department",
    "agency_code": "000.00.77.H26",
    "action": "add",
    "personal_id": "001085001111",
    "full_name": "Kẻ Lạ",
    "role": "leader",
    "confirm": "yes",
}


@pytest.mark.parametrize("who", ["anonymous", "citizen", "officer", "other_admin", "console"])
async def test_only_the_tenants_administrator_may_see_or_change_units(
    who: str, signed_in: Browser, engine: Engine, hanoi: Tenant, make_tenant: MakeTenant, app: Any
) -> None:
    host = f"{hanoi.slug}.localhost"
    own_admin = await signed_in(hanoi, role="tenant_admin")
    token = await csrf_of(own_admin, "/manage/units")  # a valid token: the guard is what refuses
    if who == "anonymous":
        browser = httpx.AsyncClient(transport=asgi_transport(app), base_url=f"http://{host}")
    elif who == "other_admin":
        # Signed in to another tenant, then sent to this one's host with that session.
        browser = await signed_in(make_tenant(), role="tenant_admin")
        session = browser.cookies.get(SESSION_COOKIE)
        assert session is not None
        browser.base_url = httpx.URL(f"http://{host}")
        browser.cookies.set(SESSION_COOKIE, session, domain=host)
    elif who == "console":
        browser = await signed_in(None, role="platform_admin")
    else:
        browser = await signed_in(hanoi, role=who)
    for cookie in own_admin.cookies.jar:
        if cookie.name != SESSION_COOKIE:
            browser.cookies.set(cookie.name, cookie.value or "", domain=cookie.domain)
    before = _units(engine, hanoi)
    audit_before = _audit(engine, hanoi)
    with engine.connect() as conn:
        unit_id = conn.execute(
            text(f"SELECT id FROM {hanoi.schema}.units WHERE parent_id IS NULL")
        ).scalar_one()
    for method, path in (
        ("GET", "/manage/units"),
        ("GET", f"/manage/units/{unit_id}"),
        ("POST", "/manage/units"),
        ("POST", f"/manage/units/{unit_id}"),
        ("POST", f"/manage/units/{unit_id}/staff"),
    ):
        if method == "GET":
            response = await browser.get(path)
        else:
            response = await browser.post(path, data={"_csrf_token": token, **HOSTILE})
        if who == "console":
            assert response.status_code == 404, (path, response.status_code)
        else:
            assert response.status_code in (303, 401, 403), (who, method, path, response.status_code)
            if response.status_code == 303:
                assert response.headers["location"].startswith("/login"), (path, response.headers)
        assert "Trung tâm Phục vụ hành chính công" not in response.text
    assert _units(engine, hanoi) == before
    assert _audit(engine, hanoi) == audit_before
    if who == "anonymous":
        await browser.aclose()


def test_the_audit_trail_tells_unit_changes_in_words() -> None:
    assert action_words("unit.staff_added") == "Giao vai trò cho cán bộ của đơn vị"
    lines = detail_lines(
        {
            "unit": "Sở Tư pháp",
            "person": "Phạm Văn Chuyên",
            "personal_id": "001085009999",
            "role": "leader",
            "kind": "department",
            "changed": ["name", "agency_code"],
        },
        lambda text: text,
    )
    shown = {line.label: line.value for line in lines}
    assert shown["Vai trò"] == "Lãnh đạo" and shown["Loại"] == "Sở, ban, ngành"
    assert shown["Nội dung thay đổi"] == "Tên, Mã cơ quan" and shown["Đơn vị"] == "Sở Tư pháp"
    assert shown["Số định danh"] != "001085009999"  # masked


def test_the_command_line_lists_and_seeds_a_tenants_units(
    make_tenant: MakeTenant, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tenant onboarded without its province (only its desk) gets the province's units from
    ``motcua units seed``; a second run adds nothing; a wrong province code is a usage error."""
    tenant = make_tenant()
    assert run_cli(capsys, "units", "seed", tenant.slug, "--province", "48")[:2] == (
        0,
        f"{len(province_units(48, 'x.H00')) - 1} units added to {tenant.slug} (1 already there)\n",
    )
    assert run_cli(capsys, "units", "seed", tenant.slug, "--province", "48")[1].startswith("0 units added")
    code, out, _ = run_cli(capsys, "units", "list", tenant.slug)
    assert code == 0 and "Phường Hải Châu" in out and "[Phường]" in out
    assert out.splitlines()[0].startswith("000.00.01.") and out.splitlines()[1].startswith("  ")
    code, _, err = run_cli(capsys, "units", "seed", tenant.slug, "--province", "99")
    assert code == 2 and "not a province code" in err


def test_a_tenant_from_before_units_gets_its_desk_when_migrated(
    engine: Engine, live_settings: Settings
) -> None:
    """Upgrading a tenant whose schema predates units: the migration gives it its one-stop desk
    with the agency code its dossier codes already carry."""
    spec = build_spec(
        slug=unique_slug(), name="Cổng cũ", kind="province", settings={"agency_code": "000.00.01.H31"}
    )
    tenant = onboard_tenant(engine, live_settings, spec, actor=Actor.operator("test"))
    with engine.begin() as conn:
        # The schema as it was before units: the real downgrades, whatever revisions came later.
        config = Config(str(live_settings.root / "alembic.ini"))
        config.set_main_option("script_location", str(live_settings.root / "migrations"))
        config.attributes.update(connection=conn, schema=tenant.schema)
        alembic_command.downgrade(config, "t0015")
    migrate_tenant_schema(engine, live_settings.root, tenant.schema)
    assert [(kind, code) for kind, _, code, _ in _units(engine, tenant)] == [
        ("service_centre", "000.00.01.H31")
    ]
