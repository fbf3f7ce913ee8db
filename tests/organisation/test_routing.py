"""Where a procedure's dossiers go (organisation.routing): the tier and deciding unit seeded from
the catalogue and edited at /manage/catalog/{code}/routing (validated, audited, administrators
only); the commune chosen when applying, prefilled from the e-ID address; the receiving unit's
code on the dossier code, consecutive under concurrency; the desk's and a system's intake."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from motcua.admin.audit_words import action_words, detail_lines
from motcua.admin.services import build_spec, onboard_tenant
from motcua.catalog.services import get_procedure
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.intake import Applicant, Received, receive_dossier
from motcua.dossiers.models import Channel
from motcua.dossiers.services import Submission, open_draft, save_commune, submit_dossier
from motcua.identity.models import Citizen
from motcua.identity.oidc import VerifiedIdentity
from motcua.identity.services import record_tenant_login
from motcua.identity.sessions import SESSION_COOKIE
from motcua.organisation.models import Tier
from motcua.organisation.routing import default_route, unit_in_address
from motcua.organisation.services import add_staff, get_unit, set_unit_active
from tests.admin.conftest import Browser, csrf_of, new_personal_id
from tests.conftest import MakeTenant, asgi_transport, unique_slug

FORM = [{"name": "child_full_name", "label": "Họ tên của trẻ", "type": "text", "required": True}]


def _procedure(code: str, name: str, agency: str) -> dict[str, Any]:
    return {
        "code": code,
        "name": name,
        "field": "Hộ tịch",
        "level": "full",
        "agency": agency,
        "processing_days": 1,
        "documents": [],
        "fields": FORM,
    }


BIRTH = _procedure("1.001193", "Đăng ký khai sinh", "Ủy ban nhân dân cấp xã")
RECORD = _procedure("2.000488", "Cấp Phiếu lý lịch tư pháp", "Sở Tư pháp")
CUSTOMS = _procedure("9.000001", "Thủ tục của cơ quan ngoài danh sách", "Cục Hải quan")
BUILDING = _procedure("1.009993", "Cấp giấy phép xây dựng nhà ở riêng lẻ", "Ủy ban nhân dân cấp huyện")
ADDRESS = "Số 12 phố Hàng Bài, phường Hoàn Kiếm, thành phố Hà Nội"
ANSWERS = {"child_full_name": "Nguyễn Minh Khôi"}


@pytest.fixture(scope="module")
def hanoi(engine: Engine, live_settings: Settings) -> Tenant:
    spec = build_spec(
        slug=unique_slug(),
        name="Cổng thử nghiệm định tuyến",
        kind="province",
        settings={"locality": {"code": "01", "name": "Thành phố Hà Nội"}, "agency_code": "000.00.01.H26"},
        procedures=[BIRTH, RECORD, CUSTOMS, BUILDING],
    )
    return onboard_tenant(engine, live_settings, spec, actor=Actor.operator("test"))


def _unit(engine: Engine, tenant: Tenant, name: str) -> tuple[int, str]:
    with engine.connect() as conn:
        row = conn.execute(
            text(f"SELECT id, agency_code FROM {tenant.schema}.units WHERE name = :n"), {"n": name}
        ).one()
    return int(row.id), str(row.agency_code)


def _routes(engine: Engine, tenant: Tenant) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as conn:
        return {
            r.code: (r.tier, r.unit)
            for r in conn.execute(
                text(
                    f"SELECT p.code, r.tier, u.name AS unit FROM {tenant.schema}.procedure_routes r"
                    f" JOIN {tenant.schema}.procedures p ON p.id = r.procedure_id"
                    f" LEFT JOIN {tenant.schema}.units u ON u.id = r.deciding_unit_id"
                )
            )
        }


def _route_audit(engine: Engine, tenant: Tenant) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [
            r.detail
            for r in conn.execute(
                text(
                    f"SELECT detail FROM {tenant.schema}.audit_log"
                    " WHERE action = 'unit.route_changed' ORDER BY id"
                )
            )
        ]


def _dossier(engine: Engine, tenant: Tenant, code: str) -> tuple[int | None, int | None]:
    with engine.connect() as conn:
        row = conn.execute(
            text(f"SELECT receiving_unit_id, deciding_unit_id FROM {tenant.schema}.dossiers WHERE code = :c"),
            {"c": code},
        ).one()
    return row.receiving_unit_id, row.deciding_unit_id


def test_routes_are_seeded_from_what_the_catalogue_says(engine: Engine, hanoi: Tenant) -> None:
    assert _routes(engine, hanoi) == {
        "1.001193": ("commune", None),  # the receiving commune decides
        "2.000488": ("province", "Sở Tư pháp"),
        "9.000001": ("province", None),  # no department matched: the service centre decides
        "1.009993": ("commune", None),  # districts' procedures went to the communes in 2025
    }
    # The rule itself, accents and case aside, the longest department name first.
    departments = [(1, "Sở Tư pháp"), (2, "Sở Xây dựng"), (3, "Văn phòng Ủy ban nhân dân")]
    assert default_route("SO TU PHAP tỉnh", ministry=False, departments=departments) == (Tier.PROVINCE, 1)
    assert default_route("UBND cấp xã", ministry=False, departments=departments) == (Tier.COMMUNE, None)
    assert default_route("Công an phường", ministry=False, departments=departments) == (Tier.COMMUNE, None)
    assert default_route("Sở Lao động - Xã hội", ministry=False, departments=departments)[0] is Tier.PROVINCE
    assert default_route("UBND địa phương", ministry=False, departments=departments)[0] is Tier.PROVINCE
    assert default_route("Vụ Pháp chế", ministry=True, departments=departments) == (Tier.MINISTRY, None)
    # The commune named in an address, as whole words.
    units = [type("U", (), {"name": n})() for n in ("Phường Hoàn Kiếm", "Phường Kiếm", "Xã Hoàn")]
    found = unit_in_address(units, ADDRESS)
    assert found is not None and found.name == "Phường Hoàn Kiếm"
    assert unit_in_address(units, "Số 1 phố Hàng Bài, Hà Nội") is None


async def test_the_administrator_edits_a_route_validated_and_audited(
    signed_in: Browser, engine: Engine, hanoi: Tenant
) -> None:
    admin = await signed_in(hanoi, role="tenant_admin")
    url = "/manage/catalog/9.000001/routing"
    page = await admin.get(url)
    assert page.status_code == 200
    assert "Cục Hải quan" in page.text and 'value="province" checked' in page.text
    detail = await admin.get("/manage/catalog/9.000001")
    assert f'href="{url}"' in detail.text
    token = await csrf_of(admin, url)
    ward, _ = _unit(engine, hanoi, "Phường Hoàn Kiếm")
    justice, _ = _unit(engine, hanoi, "Sở Tư pháp")
    finance, _ = _unit(engine, hanoi, "Sở Tài chính")
    routes, audit = _routes(engine, hanoi), _route_audit(engine, hanoi)
    for form, message in (
        ({"tier": "province", "deciding_unit_id": str(ward)}, "phải là một sở, ban, ngành đang hoạt động"),
        ({"tier": "province", "deciding_unit_id": "987654321"}, "phải là một sở, ban, ngành đang hoạt động"),
        ({"tier": "commune", "deciding_unit_id": str(justice)}, "để trống đơn vị giải quyết"),
        ({"tier": "ministry", "deciding_unit_id": ""}, "Chọn cấp tiếp nhận trong danh sách."),
        ({"tier": "x" * 5000, "deciding_unit_id": "1" * 5000}, "Chọn cấp tiếp nhận trong danh sách."),
    ):
        refused = await admin.post(url, data={"_csrf_token": token, **form})
        assert refused.status_code == 400, form
        assert message in refused.text and 'id="error-summary"' in refused.text
    assert _routes(engine, hanoi) == routes and _route_audit(engine, hanoi) == audit

    saved = await admin.post(
        url, data={"_csrf_token": token, "tier": "province", "deciding_unit_id": str(finance)}
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"{url}?done=saved"
    assert "Đã lưu nơi tiếp nhận" in (await admin.get(saved.headers["location"])).text
    again = await admin.post(
        url, data={"_csrf_token": token, "tier": "province", "deciding_unit_id": str(finance)}
    )
    assert again.headers["location"] == f"{url}?done=unchanged"
    assert _routes(engine, hanoi)["9.000001"] == ("province", "Sở Tài chính")
    (entry,) = _route_audit(engine, hanoi)[len(audit) :]
    assert (
        entry["procedure"] == "9.000001" and entry["tier"] == "province" and entry["unit"] == "Sở Tài chính"
    )
    assert action_words("unit.route_changed") == "Đổi cấp tiếp nhận và đơn vị giải quyết của thủ tục"
    shown = {line.label: line.value for line in detail_lines(entry, lambda t: t)}
    assert shown["Cấp tiếp nhận"] == "Cấp tỉnh" and shown["Đơn vị"] == "Sở Tài chính"


async def _citizen(
    signed_in: Browser, tenant: Tenant, db: Database, address: str | None
) -> httpx.AsyncClient:
    """A citizen signed in; their e-ID gave this address (a second login brings it)."""
    personal_id = new_personal_id()
    browser = await signed_in(tenant, role="citizen", personal_id=personal_id)
    identity = VerifiedIdentity(
        "https://eid.test",
        f"sub-{personal_id}",
        personal_id,
        {"name": "Trần Thị Hoa", "address": {"formatted": address}} if address else {"name": "Trần Thị Hoa"},
        "",
        None,
    )
    async with db.tenant_session(tenant) as session:
        await record_tenant_login(session, identity)
    return browser


async def _apply_until_review(browser: httpx.AsyncClient, code: str, delivery: dict[str, str]) -> str:
    token = await csrf_of(browser, f"/procedures/{code}/apply")
    answered = await browser.post(f"/procedures/{code}/apply", data={"_csrf_token": token, **ANSWERS})
    assert answered.status_code == 303, answered.text[:1000]
    chosen = await browser.post(f"/procedures/{code}/apply/delivery", data={"_csrf_token": token, **delivery})
    assert chosen.status_code == 303, chosen.text[:2000]
    return token


async def test_a_citizen_applies_at_the_commune_her_e_id_address_names(
    signed_in: Browser, engine: Engine, hanoi: Tenant, live_settings: Settings
) -> None:
    db = Database(live_settings.database_url or "", pool_size=2)
    try:
        browser = await _citizen(signed_in, hanoi, db, ADDRESS)
    finally:
        await db.dispose()
    ward, ward_code = _unit(engine, hanoi, "Phường Hoàn Kiếm")
    justice, _ = _unit(engine, hanoi, "Sở Tư pháp")
    delivery = await browser.get("/procedures/1.001193/apply/delivery")
    assert delivery.status_code == 200
    assert "Nơi nộp hồ sơ" in delivery.text
    assert f'<option value="{ward}" lang="vi" selected>Phường Hoàn Kiếm</option>' in delivery.text
    assert delivery.text.count("<optgroup") == 2  # Xã, Phường (Hà Nội has no special zone)

    token = await csrf_of(browser, "/procedures/1.001193/apply")
    await browser.post("/procedures/1.001193/apply", data={"_csrf_token": token, **ANSWERS})
    for chosen, message in (
        ("", "Chọn xã, phường hoặc đặc khu nơi nộp hồ sơ."),
        (str(justice), "không còn nhận hồ sơ"),  # a department is not a commune
        ("987654321", "không còn nhận hồ sơ"),  # not a unit of this tenant
        ("x" * 5000, "Chọn xã, phường hoặc đặc khu nơi nộp hồ sơ."),
    ):
        refused = await browser.post(
            "/procedures/1.001193/apply/delivery",
            data={"_csrf_token": token, "delivery_method": "desk", "receiving_unit_id": chosen},
        )
        assert refused.status_code == 400 and message in refused.text, chosen
        assert 'href="#receiving_unit_id"' in refused.text
    assert (await browser.get("/procedures/1.001193/apply/review")).status_code == 303  # not chosen yet

    done = await browser.post(
        "/procedures/1.001193/apply/delivery",
        data={"_csrf_token": token, "delivery_method": "desk", "receiving_unit_id": str(ward)},
    )
    assert done.status_code == 303
    review = await browser.get("/procedures/1.001193/apply/review")
    assert review.status_code == 200
    assert re.search(r'data-testid="check-receiving-unit">Phường Hoàn Kiếm<', review.text)
    assert "/procedures/1.001193/apply/delivery?from=review#receiving_unit_id" in review.text
    submission = re.search(r'name="token" value="([^"]+)"', review.text)
    assert submission is not None
    submitted = await browser.post(
        "/procedures/1.001193/apply/submit",
        data={"_csrf_token": token, "token": submission.group(1), "declaration": "yes"},
    )
    assert submitted.status_code == 303, submitted.text[:2000]
    code = submitted.headers["location"].split("/")[3]
    assert re.fullmatch(re.escape(ward_code) + r"-\d{6}-0001", code)
    assert _dossier(engine, hanoi, code) == (ward, ward)  # received and decided by the ward
    for page in (submitted.headers["location"], f"/my/dossiers/{code}"):
        shown = await browser.get(page)
        assert re.search(
            r"Nơi tiếp nhận</dt><dd data-testid=\"receiving-unit\" lang=\"vi\">Phường Hoàn Kiếm<", shown.text
        )


async def test_a_commune_closed_before_submitting_is_refused_with_nothing_written(
    signed_in: Browser, engine: Engine, hanoi: Tenant, live_settings: Settings
) -> None:
    db = Database(live_settings.database_url or "", pool_size=2)
    try:
        browser = await _citizen(signed_in, hanoi, db, None)
        delivery = await browser.get("/procedures/1.009993/apply/delivery")
        assert '<option value="" selected>' in delivery.text  # no address, nothing prefilled
        ward, _ = _unit(engine, hanoi, "Phường Ba Đình")
        token = await _apply_until_review(
            browser, "1.009993", {"delivery_method": "online", "receiving_unit_id": str(ward)}
        )
        review = await browser.get("/procedures/1.009993/apply/review")
        submission = re.search(r'name="token" value="([^"]+)"', review.text)
        assert submission is not None
        async with db.tenant_session(hanoi) as session:
            unit = await get_unit(session, ward)
            assert unit is not None
            await set_unit_active(session, unit, active=False, actor=Actor.operator("test"))
        with engine.connect() as conn:
            before = conn.execute(text(f"SELECT count(*) FROM {hanoi.schema}.dossiers")).scalar()
        refused = await browser.post(
            "/procedures/1.009993/apply/submit",
            data={"_csrf_token": token, "token": submission.group(1), "declaration": "yes"},
        )
        assert refused.status_code == 400
        assert "Nơi nộp hồ sơ đã chọn không còn nhận hồ sơ" in refused.text
        with engine.connect() as conn:
            assert conn.execute(text(f"SELECT count(*) FROM {hanoi.schema}.dossiers")).scalar() == before
        async with db.tenant_session(hanoi) as session:
            unit = await get_unit(session, ward)
            assert unit is not None
            await set_unit_active(session, unit, active=True, actor=Actor.operator("test"))
    finally:
        await db.dispose()


async def test_province_procedures_go_to_the_centre_and_the_desk_receives_where_the_officer_works(
    engine: Engine, hanoi: Tenant, live_settings: Settings
) -> None:
    centre, centre_code = _unit(engine, hanoi, "Trung tâm Phục vụ hành chính công")
    justice, _ = _unit(engine, hanoi, "Sở Tư pháp")
    ward, ward_code = _unit(engine, hanoi, "Phường Cửa Nam")
    hoan_kiem, _ = _unit(engine, hanoi, "Phường Hoàn Kiếm")
    officer = new_personal_id()
    db = Database(live_settings.database_url or "", pool_size=2)
    try:
        async with db.tenant_session(hanoi) as session:
            pid = new_personal_id()
            login = await record_tenant_login(
                session,
                VerifiedIdentity("https://eid.test", f"s-{pid}", pid, {"name": "Lê Văn Nam"}, "", None),
            )
            record = await get_procedure(session, "2.000488")
            assert record is not None
            draft = await open_draft(session, login.citizen_id or 0, record, dict(ANSWERS))
            citizen = await session.get(Citizen, login.citizen_id)
            assert citizen is not None
            online = await submit_dossier(
                session,
                hanoi,
                citizen=citizen,
                procedure=record,
                token=draft.token,
                actor=Actor.citizen(citizen.id),
            )
            assert isinstance(online, Submission)
            assert online.dossier.code.startswith(f"{centre_code}-")
            assert (online.dossier.receiving_unit_id, online.dossier.deciding_unit_id) == (centre, justice)

            unit = await get_unit(session, ward)
            assert unit is not None
            await add_staff(
                session,
                unit,
                personal_id=officer,
                full_name="Phạm Thu Hà",
                role="reception",
                actor=Actor.operator("t"),
            )
        applicant = Applicant(personal_id="001190004321", full_name="Đỗ Văn Bình", address=ADDRESS)
        received: dict[str, Received] = {}
        for name, code, actor in (
            ("desk_commune", "1.001193", Actor.officer(officer)),  # at the ward's desk
            ("desk_province", "2.000488", Actor.officer(officer)),
            ("centre_desk", "2.000488", Actor.officer(new_personal_id())),  # an officer of no unit
            ("portal", "1.001193", Actor.system("national-portal")),  # the address names the ward
        ):
            async with db.tenant_session(hanoi) as session:
                procedure = await get_procedure(session, code)
                assert procedure is not None
                outcome = await receive_dossier(
                    session,
                    hanoi,
                    procedure=procedure,
                    applicant=applicant,
                    data=dict(ANSWERS),
                    documents=[],
                    channel=Channel.IN_PERSON if name != "portal" else Channel.NATIONAL_PORTAL,
                    actor=actor,
                )
                assert isinstance(outcome, Received)
                received[name] = outcome
    finally:
        await db.dispose()
    units = {name: (r.dossier.receiving_unit_id, r.dossier.deciding_unit_id) for name, r in received.items()}
    assert units == {
        "desk_commune": (ward, ward),
        "desk_province": (ward, justice),  # received at the ward, decided by the department
        "centre_desk": (centre, justice),
        "portal": (hoan_kiem, hoan_kiem),
    }
    assert received["desk_commune"].dossier.code.startswith(f"{ward_code}-")
    assert received["centre_desk"].dossier.code.startswith(f"{centre_code}-")


async def test_fifty_concurrent_submissions_to_one_commune_get_fifty_consecutive_codes(
    engine: Engine, hanoi: Tenant, live_settings: Settings
) -> None:
    ward, ward_code = _unit(engine, hanoi, "Phường Hồng Hà")
    db = Database(live_settings.database_url or "", pool_size=20)
    tokens: list[tuple[int, str]] = []
    try:
        for i in range(50):
            async with db.tenant_session(hanoi) as session:
                pid = f"0011950{i:05d}"
                login = await record_tenant_login(
                    session,
                    VerifiedIdentity("https://eid.test", f"c{i}", pid, {"name": f"Công dân {i}"}, "", None),
                )
                procedure = await get_procedure(session, "1.001193")
                assert procedure is not None
                draft = await open_draft(session, login.citizen_id or 0, procedure, dict(ANSWERS))
                await save_commune(session, draft, ward)
                tokens.append((login.citizen_id or 0, draft.token))

        async def submit(citizen_id: int, token: str) -> str:
            async with db.tenant_session(hanoi) as session:
                citizen = await session.get(Citizen, citizen_id)
                procedure = await get_procedure(session, "1.001193")
                assert citizen is not None and procedure is not None
                outcome = await submit_dossier(
                    session,
                    hanoi,
                    citizen=citizen,
                    procedure=procedure,
                    token=token,
                    actor=Actor.citizen(citizen.id),
                )
                assert isinstance(outcome, Submission), getattr(outcome, "errors", None)
                return outcome.dossier.code

        codes = await asyncio.gather(*(submit(c, t) for c, t in tokens))
    finally:
        await db.dispose()
    assert len(set(codes)) == 50
    assert {c.rsplit("-", 1)[0] for c in codes} == {f"{ward_code}-{codes[0].split('-')[1]}"}
    assert sorted(int(c.rsplit("-", 1)[1]) for c in codes) == list(range(1, 51))
    assert {_dossier(engine, hanoi, c) for c in codes} == {(ward, ward)}


@pytest.mark.parametrize("who", ["anonymous", "citizen", "officer", "other_admin", "console"])
async def test_only_the_tenants_administrator_may_see_or_change_routes(
    who: str, signed_in: Browser, engine: Engine, hanoi: Tenant, make_tenant: MakeTenant, app: Any
) -> None:
    host = f"{hanoi.slug}.localhost"
    own_admin = await signed_in(hanoi, role="tenant_admin")
    url = "/manage/catalog/2.000488/routing"
    token = await csrf_of(own_admin, url)  # a valid token: the guard is what refuses
    if who == "anonymous":
        browser = httpx.AsyncClient(transport=asgi_transport(app), base_url=f"http://{host}")
    elif who == "other_admin":
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
    routes, audit = _routes(engine, hanoi), _route_audit(engine, hanoi)
    for method in ("GET", "POST"):
        if method == "GET":
            response = await browser.get(url)
        else:
            response = await browser.post(
                url, data={"_csrf_token": token, "tier": "commune", "deciding_unit_id": ""}
            )
        if who == "console":
            assert response.status_code == 404, (method, response.status_code)
        else:
            assert response.status_code in (303, 401, 403), (who, method, response.status_code)
            if response.status_code == 303:
                assert response.headers["location"].startswith("/login")
        assert "Đơn vị giải quyết" not in response.text
        assert "default-src" in response.headers.get("content-security-policy", "")
    assert _routes(engine, hanoi) == routes and _route_audit(engine, hanoi) == audit
    if who == "anonymous":
        await browser.aclose()
