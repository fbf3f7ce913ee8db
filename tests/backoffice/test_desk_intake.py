"""Dossiers an officer receives at the desk or by post, through the real app: the form, the
dossier it makes (code, due date, history, files marked digitised), the slip, refusals that
write nothing, who may use the pages, and the citizen finding the dossier after their e-ID
login."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
from litestar import Litestar
from sqlalchemy import Engine, select, text

from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import VIETNAM, DurationUnit, due_date
from motcua.dossiers.services import calendar_for
from motcua.identity.sessions import SESSION_COOKIE
from motcua.organisation.models import Unit
from motcua.organisation.services import add_staff, add_unit
from tests.admin.conftest import CONSOLE, Browser, csrf_of, new_personal_id, signed_in
from tests.conftest import MakeTenant, asgi_transport
from tests.dossiers.conftest import BIRTH, PDF, SignIn, sign_in
from tests.dossiers.test_slip import all_text

__all__ = ["sign_in", "signed_in"]

CODE = re.compile(r"000\.00\.01\.T01-\d{6}-\d{4}")
PROCEDURE: dict[str, Any] = {
    **BIRTH,
    "documents": [
        *cast(list[dict[str, Any]], BIRTH["documents"]),
        {
            "code": "giay-chung-sinh",
            "name": "Giấy chứng sinh",
            "kind": "original",
            "copies": 1,
            "required": False,
        },
    ],
}
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
Files = dict[str, tuple[str, bytes, str]]


def _fields(token: str, applicant_id: str, **changes: str) -> dict[str, str]:
    fields = {
        "_csrf_token": token,
        "procedure": "1.001193",
        "channel": "in_person",
        "applicant-personal_id": applicant_id,
        "applicant-full_name": "Lê Thị Hoa",
        "applicant-phone": "0912 345 678",
        "applicant-email": "hoa@example.vn",
        "applicant-address": "Số 1 phố Tràng Tiền, Hoàn Kiếm",
        "data-child_full_name": "Lê Minh Anh",
        "data-child_birth_date": date.today().isoformat(),
        "data-mother_full_name": "Lê Thị Hoa",
        "data-mother_personal_id": applicant_id,
        "data-has_father": "Không",
        "digitised-to-khai": "yes",
    }
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def _files(**changes: tuple[str, bytes, str] | None) -> Files:
    files: dict[str, tuple[str, bytes, str] | None] = {
        "documents-to-khai": ("tờ khai.pdf", PDF, "application/pdf"),
        "documents-giay-chung-sinh": ("giấy chứng sinh.png", PNG, "image/png"),
    }
    files.update(changes)
    return {k: v for k, v in files.items() if v is not None}


async def _officer(signed_in: Browser, tenant: Tenant) -> tuple[httpx.AsyncClient, str]:
    personal_id = new_personal_id()
    return await signed_in(
        tenant, role="officer", personal_id=personal_id, name="Phạm Thị Cán Bộ"
    ), personal_id


async def _receive(
    officer: httpx.AsyncClient,
    applicant_id: str,
    changes: dict[str, str] | None = None,
    *,
    files: Files | None = None,
) -> httpx.Response:
    token = await csrf_of(officer, "/officer/receive?procedure=1.001193")
    return await officer.post(
        "/officer/receive",
        data=_fields(token, applicant_id, **(changes or {})),
        files=_files() if files is None else files,
    )


def _applicant_id() -> str:
    # Born in Hà Nội (province code 001): a personal ID nobody else in these tests uses.
    return "001" + new_personal_id()[3:]


def _stored_files(settings: Settings, tenant: Tenant) -> int:
    root = settings.data_dir / "files" / tenant.schema
    return sum(1 for p in Path(root).rglob("*") if p.is_file()) if root.exists() else 0


def _counts(engine: Engine, tenant: Tenant) -> tuple[int, int, int, int]:
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            int(conn.scalar(text(f"SELECT count(*) FROM {tenant.schema}.{table}")) or 0)
            for table in ("dossiers", "dossier_files", "dossier_history", "citizens")
        )


async def test_an_officer_receives_a_walk_in_dossier_with_digitised_scans(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[PROCEDURE])
    officer, officer_id = await _officer(signed_in, tenant)
    queue = await officer.get("/officer")
    assert 'href="/officer/receive"' in queue.text

    found = await officer.get("/officer/receive", params={"q": "khai sinh"})
    assert found.status_code == 200
    assert 'href="/officer/receive?procedure=1.001193"' in found.text
    form = await officer.get("/officer/receive?procedure=1.001193")
    assert form.status_code == 200
    for name in (
        "applicant-personal_id",
        "data-child_full_name",
        "documents-to-khai",
        "documents-giay-chung-sinh",
    ):
        assert f'name="{name}"' in form.text
    # Scans made at the desk are digitised copies unless the officer says otherwise.
    assert re.search(r'name="digitised-to-khai" value="yes"\s+checked', form.text)

    applicant_id = _applicant_id()
    done = await _receive(officer, applicant_id)
    assert done.status_code == 303, done.text[:3000]
    code_match = CODE.search(done.headers["location"])
    assert code_match is not None
    code = code_match.group(0)
    assert done.headers["location"] == f"/officer/receive/{code}"

    page = await officer.get(done.headers["location"])
    assert page.status_code == 200
    assert code in page.text
    assert "Trực tiếp tại Bộ phận Một cửa, do cán bộ tiếp nhận" in page.text
    assert f'href="/officer/dossiers/{code}/slip.pdf"' in page.text

    with engine.connect() as conn:
        dossier = conn.execute(
            text(
                f"SELECT id, channel, submitted_by_citizen, received_at, due_at, applicant_name, "
                f"applicant_personal_id, data FROM {tenant.schema}.dossiers WHERE code = :c"
            ),
            {"c": code},
        ).one()
        history = conn.execute(
            text(
                f"SELECT actor, to_status, reason FROM {tenant.schema}.dossier_history WHERE dossier_id = :d"
            ),
            {"d": dossier.id},
        ).all()
        files: dict[str, bool] = dict(
            conn.execute(
                text(
                    f"SELECT document_code, digitised FROM {tenant.schema}.dossier_files "
                    "WHERE dossier_id = :d"
                ),
                {"d": dossier.id},
            ).all()
        )
    assert (dossier.channel, dossier.submitted_by_citizen) == (1, False)
    assert (dossier.applicant_name, dossier.applicant_personal_id) == ("Lê Thị Hoa", applicant_id)
    assert dossier.data["child_full_name"] == "Lê Minh Anh"
    # The same deadline rule as an online dossier: the procedure's working days from reception.
    assert dossier.due_at == due_date(
        calendar_for(tenant),
        dossier.received_at,
        cast(int, BIRTH["processing_days"]),
        DurationUnit.WORKING_DAYS,
    )
    assert dossier.due_at.astimezone(VIETNAM).strftime("%H:%M, %d/%m/%Y") in page.text
    assert history == [(f"officer:{officer_id}", "submitted", "Tiếp nhận trực tiếp tại Bộ phận Một cửa")]
    assert files == {"to-khai": True, "giay-chung-sinh": False}

    slip = await officer.get(f"/officer/dossiers/{code}/slip.pdf")
    assert slip.status_code == 200
    assert slip.headers["content-type"] == "application/pdf"
    words = all_text(slip.content)
    assert code in words
    assert "Hình thức nộp hồ sơ: Trực tiếp tại Bộ phận Một cửa, do cán bộ tiếp nhận" in words
    assert "Bản giấy, đã số hóa" in words and "Bản điện tử" in words
    assert "0912345678" in words and "Tràng Tiền" in words

    workspace = await officer.get(f"/officer/dossiers/{code}")
    assert "Trực tiếp tại Bộ phận Một cửa, do cán bộ tiếp nhận" in workspace.text
    assert workspace.text.count('data-testid="digitised"') == 1
    tracking = await officer.get("/tracking", params={"code": code})
    assert "Trực tiếp tại Bộ phận Một cửa, do cán bộ tiếp nhận" in tracking.text


async def test_an_officer_receives_a_dossier_by_post(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[PROCEDURE])
    officer, _ = await _officer(signed_in, tenant)
    done = await _receive(
        officer,
        _applicant_id(),
        {"channel": "postal", "digitised-to-khai": ""},
        files=_files(**{"documents-giay-chung-sinh": None}),
    )
    assert done.status_code == 303, done.text[:3000]
    code = done.headers["location"].rsplit("/", 1)[1]
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT d.channel, d.submitted_by_citizen, h.reason, f.digitised "
                f"FROM {tenant.schema}.dossiers d "
                f"JOIN {tenant.schema}.dossier_history h ON h.dossier_id = d.id "
                f"JOIN {tenant.schema}.dossier_files f ON f.dossier_id = d.id WHERE d.code = :c"
            ),
            {"c": code},
        ).one()
    assert tuple(row) == (3, False, "Tiếp nhận qua dịch vụ bưu chính công ích", False)
    page = await officer.get(f"/officer/receive/{code}")
    assert "Qua dịch vụ bưu chính công ích, do cán bộ tiếp nhận" in page.text
    slip = await officer.get(f"/officer/dossiers/{code}/slip.pdf")
    assert "Hình thức nộp hồ sơ: Qua dịch vụ bưu chính công ích, do cán bộ tiếp nhận" in all_text(
        slip.content
    )


async def test_each_bad_input_is_refused_with_a_summary_and_writes_nothing(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    tenant = make_tenant(procedures=[PROCEDURE])
    officer, _ = await _officer(signed_in, tenant)
    applicant_id = _applicant_id()
    before = (_counts(engine, tenant), _stored_files(live_settings, tenant))
    exe = ("to-khai.pdf", b"MZ\x90\x00" + b"\x00" * 200, "application/pdf")
    cases: list[tuple[dict[str, str], Files | None, str]] = [
        ({"applicant-personal_id": "12345"}, None, "applicant-personal_id"),
        ({"applicant-personal_id": "000123456789"}, None, "applicant-personal_id"),
        ({"applicant-personal_id": "0" * 40}, None, "applicant-personal_id"),
        ({"applicant-full_name": "   "}, None, "applicant-full_name"),
        ({"applicant-full_name": "A" * 201}, None, "applicant-full_name"),
        ({"applicant-phone": "12ab"}, None, "applicant-phone"),
        ({"applicant-email": "not-an-email"}, None, "applicant-email"),
        ({"applicant-address": "x" * 501}, None, "applicant-address"),
        ({"channel": "online"}, None, "channel"),
        ({"channel": ""}, None, "channel"),
        ({"data-child_full_name": ""}, None, "data-child_full_name"),
        (
            {"data-child_birth_date": (date.today() + timedelta(days=3)).isoformat()},
            None,
            "data-child_birth_date",
        ),
        ({"data-has_father": "Có"}, None, "data-father_full_name"),
        ({"data-mother_personal_id": "123"}, None, "data-mother_personal_id"),
        ({}, _files(**{"documents-to-khai": None}), "documents-to-khai"),
        ({}, _files(**{"documents-to-khai": ("", b"", "application/octet-stream")}), "documents-to-khai"),
        ({}, _files(**{"documents-to-khai": exe}), "documents-to-khai"),
        (
            {},
            _files(**{"documents-giay-chung-sinh": ("rỗng.pdf", b"", "application/pdf")}),
            "documents-giay-chung-sinh",
        ),
    ]
    for changes, files, anchor in cases:
        answer = await _receive(officer, applicant_id, changes, files=files)
        where = f"{changes or files}"
        assert answer.status_code == 400, where
        assert 'id="error-summary"' in answer.text, where
        assert f'href="#{anchor}"' in answer.text, (
            where,
            answer.text[answer.text.find("error-summary") :][:800],
        )
        assert f'id="{anchor}"' in answer.text, where
        # What was typed is kept (files excepted, and the summary says so when some were chosen).
        assert "Số 1 phố Tràng Tiền, Hoàn Kiếm" in answer.text or anchor == "applicant-address", where
        assert 'value="Lê Minh Anh"' in answer.text or anchor == "data-child_full_name", where
        assert "vui lòng chọn lại các tệp giấy tờ" in answer.text, where
        assert (_counts(engine, tenant), _stored_files(live_settings, tenant)) == before, where

    # Several mistakes at once are all listed.
    many = await _receive(officer, "12", {"applicant-full_name": "", "channel": "x"})
    assert many.status_code == 400
    for anchor in ("applicant-personal_id", "applicant-full_name", "channel"):
        assert f'href="#{anchor}"' in many.text

    # A procedure that is not (or no longer) in the published catalogue.
    unknown = await _receive(officer, applicant_id, {"procedure": "9.999999"})
    assert unknown.status_code == 400
    assert 'href="#procedure"' in unknown.text
    assert (await officer.get("/officer/receive?procedure=9.999999")).status_code == 404

    # Requests the page's form never sends: a NUL, a field given twice, a file in a text field.
    token = await csrf_of(officer, "/officer/receive?procedure=1.001193")
    nul = await officer.post(
        "/officer/receive",
        data=_fields(token, applicant_id, **{"applicant-full_name": "Lê\x00Hoa"}),
        files=_files(),
    )
    assert nul.status_code == 400
    twice = await officer.post(
        "/officer/receive",
        data={**_fields(token, applicant_id), "applicant-full_name": ["Lê Thị Hoa", "Lê Văn B"]},
        files=_files(),
    )
    assert twice.status_code == 400
    without_name = {k: v for k, v in _fields(token, applicant_id).items() if k != "applicant-full_name"}
    file_as_text = await officer.post(
        "/officer/receive",
        data=without_name,
        files={**_files(), "applicant-full_name": ("a.pdf", PDF, "application/pdf")},
    )
    assert file_as_text.status_code == 400
    assert (_counts(engine, tenant), _stored_files(live_settings, tenant)) == before


async def test_only_officers_of_the_tenant_use_the_desk_pages(
    signed_in: Browser, make_tenant: MakeTenant, app: Litestar, engine: Engine, live_settings: Settings
) -> None:
    tenant, other = make_tenant(procedures=[PROCEDURE]), make_tenant(procedures=[PROCEDURE])
    officer, _ = await _officer(signed_in, tenant)
    done = await _receive(officer, _applicant_id())
    code = done.headers["location"].rsplit("/", 1)[1]
    reads = [
        "/officer/receive",
        "/officer/receive?procedure=1.001193",
        f"/officer/receive/{code}",
        f"/officer/dossiers/{code}/slip.pdf",
    ]
    # Signing people in adds citizen rows: the dossiers, their files and history must not change.
    before = (_counts(engine, tenant)[:3], _stored_files(live_settings, tenant))
    host = f"http://{tenant.slug}.localhost"

    async def refused(client: httpx.AsyncClient, *, signed: bool, token: str = "") -> None:
        for path in reads:
            answer = await client.get(path)
            if signed:
                assert answer.status_code == 403, path
            else:
                assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), path
        post = await client.post("/officer/receive", data=_fields(token, _applicant_id()), files=_files())
        assert post.status_code in (401, 403), post.status_code
        assert (_counts(engine, tenant)[:3], _stored_files(live_settings, tenant)) == before

    async with httpx.AsyncClient(transport=asgi_transport(app), base_url=host) as anonymous:
        await refused(anonymous, signed=False)

    citizen = await signed_in(tenant, role="citizen")
    await refused(citizen, signed=True, token=await csrf_of(citizen, "/procedures/1.001193/apply"))
    admin_only = await signed_in(tenant, role="tenant_admin")
    await refused(admin_only, signed=True, token=await csrf_of(admin_only, "/manage/roles"))

    # An officer of another tenant: on their own portal this tenant's dossier does not exist,
    # and their session means nothing on this tenant's host.
    foreign = await signed_in(other, role="officer")
    assert (await foreign.get(f"/officer/receive/{code}")).status_code == 404
    assert (await foreign.get(f"/officer/dossiers/{code}/slip.pdf")).status_code == 404
    console = await signed_in(None, role="platform_admin")
    for stranger in (foreign, console):
        async with httpx.AsyncClient(transport=asgi_transport(app), base_url=host) as carried:
            carried.cookies.set(
                SESSION_COOKIE, stranger.cookies[SESSION_COOKIE], domain=f"{tenant.slug}.localhost"
            )
            await refused(carried, signed=False)
    assert CONSOLE.startswith("http://admin.")

    # A tenant administrator who is an officer too receives dossiers.
    both_id = new_personal_id()
    await signed_in(tenant, role="tenant_admin", personal_id=both_id)
    both = await signed_in(tenant, role="officer", personal_id=both_id)
    assert (await both.get("/officer/receive")).status_code == 200
    assert (await _receive(both, _applicant_id())).status_code == 303


async def test_the_applicant_finds_the_dossier_after_their_e_id_login(
    signed_in: Browser, sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[PROCEDURE])
    officer, _ = await _officer(signed_in, tenant)
    applicant_id = _applicant_id()
    done = await _receive(officer, applicant_id)
    code = done.headers["location"].rsplit("/", 1)[1]

    person = await sign_in(tenant, name="Lê Thị Hoa", personal_id=applicant_id)
    mine = await person.get("/my/dossiers")
    assert code in mine.text
    detail = await person.get(f"/my/dossiers/{code}")
    assert detail.status_code == 200
    assert "Trực tiếp tại Bộ phận Một cửa, do cán bộ tiếp nhận" in detail.text
    assert "bản giấy đã số hóa" in detail.text
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT issuer, subject, phone, address FROM {tenant.schema}.citizens WHERE personal_id = :p"
            ),
            {"p": applicant_id},
        ).all()
    # One person, one row: the e-ID login took over the row the desk made; what the officer
    # wrote down and the e-ID does not say is kept.
    assert rows == [
        ("https://eid.test", f"sub-{applicant_id}", "0912345678", "Số 1 phố Tràng Tiền, Hoàn Kiếm")
    ]

    # A later desk dossier goes straight to the person's own row, and a second login keeps it.
    again = await _receive(officer, applicant_id)
    later = again.headers["location"].rsplit("/", 1)[1]
    person = await sign_in(tenant, name="Lê Thị Hoa", personal_id=applicant_id)
    listed = (await person.get("/my/dossiers")).text
    assert code in listed and later in listed


async def test_an_officer_at_several_desks_chooses_the_unit_that_receives(
    signed_in: Browser, make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    """An officer holding reception at the service centre and at a ward picks where the dossier is
    received (the centre first, preselected): the code carries that unit's agency code. A unit
    where they hold no reception role, a department, an unknown unit or a malformed value
    is refused with nothing written; an officer with one desk is not asked."""
    tenant = make_tenant(procedures=[PROCEDURE])
    officer, officer_id = await _officer(signed_in, tenant)
    single, single_id = await _officer(signed_in, tenant)
    admin = Actor.tenant_admin("001080000009")
    db = Database(live_settings.database_url or "", pool_size=1)
    async with db.tenant_session(tenant) as session:
        root = (await session.execute(select(Unit).where(Unit.parent_id.is_(None)))).scalar_one()
        ward = await add_unit(
            session,
            parent_id=root.id,
            kind="ward",
            name="Phường Quầy Hai",
            agency_code="000.71.00.T01",
            actor=admin,
        )
        commune = await add_unit(
            session,
            parent_id=root.id,
            kind="commune",
            name="Xã Không Giao",
            agency_code="000.72.00.T01",
            actor=admin,
        )
        department = await add_unit(
            session,
            parent_id=root.id,
            kind="department",
            name="Sở Có Quầy",
            agency_code="000.00.73.T01",
            actor=admin,
        )
        for unit, person, role in (
            (root, officer_id, "reception"),
            (ward, officer_id, "reception"),
            (ward, officer_id, "specialist"),
            (commune, officer_id, "leader"),  # a role there, but not reception
            (department, officer_id, "reception"),  # a department has no desk
            (ward, single_id, "reception"),
        ):
            await add_staff(
                session, unit, personal_id=person, full_name="Phạm Thị Cán Bộ", role=role, actor=admin
            )
        ids = {"root": root.id, "ward": ward.id, "commune": commune.id, "department": department.id}
    await db.dispose()

    form = (await officer.get("/officer/receive?procedure=1.001193")).text
    picker = form.split('data-testid="desk-unit"', 1)[1].split("</select>", 1)[0]
    options = re.findall(r'<option lang="vi" value="(\d+)"( selected)?>([^<]+)</option>', picker)
    assert [(int(v), bool(s)) for v, s, _ in options] == [(ids["root"], True), (ids["ward"], False)]
    assert options[1][2] == "Phường Quầy Hai"
    # One desk: nothing to choose, the dossier goes there.
    assert 'name="receiving_unit_id"' not in (await single.get("/officer/receive?procedure=1.001193")).text
    done = await _receive(single, _applicant_id())
    assert done.status_code == 303 and "/000.71.00.T01-" in done.headers["location"]

    before = (_counts(engine, tenant), _stored_files(live_settings, tenant))
    for value in (
        str(ids["commune"]),
        str(ids["department"]),
        "987654",  # no such unit
        "0",
        "-1",
        "abc",
        "9" * 30,
    ):
        refused = await _receive(officer, _applicant_id(), {"receiving_unit_id": value})
        assert refused.status_code == 400, (value, refused.status_code)
        assert "Chọn nơi tiếp nhận trong danh sách" in refused.text
        assert 'aria-invalid="true"' in refused.text.split('id="receiving_unit_id"', 1)[1].split(">", 1)[0]
        assert (_counts(engine, tenant), _stored_files(live_settings, tenant)) == before

    chosen = await _receive(officer, _applicant_id(), {"receiving_unit_id": str(ids["ward"])})
    assert chosen.status_code == 303, chosen.text[:2000]
    ward_code = chosen.headers["location"].rsplit("/", 1)[1]
    assert ward_code.startswith("000.71.00.T01-")
    default = await _receive(officer, _applicant_id())
    assert CODE.search(default.headers["location"]) is not None  # the centre's code
    centre = await _receive(officer, _applicant_id(), {"receiving_unit_id": str(ids["root"])})
    assert CODE.search(centre.headers["location"]) is not None
    with engine.connect() as conn:
        received_at = conn.execute(
            text(f"SELECT receiving_unit_id FROM {tenant.schema}.dossiers WHERE code = :c"), {"c": ward_code}
        ).scalar_one()
    assert received_at == ids["ward"]
    # The page that hands it over and the workspace are the officer's (the ward is theirs).
    assert ward_code in (await officer.get(f"/officer/receive/{ward_code}")).text
    workspace = await officer.get(f"/officer/dossiers/{ward_code}")
    assert workspace.status_code == 200 and 'data-testid="channel"' in workspace.text
