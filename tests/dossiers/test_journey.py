"""The citizen journey through the real app: form, draft, uploads, submission, slip, tracking."""

from __future__ import annotations

import asyncio
import re
from datetime import date

import httpx
from sqlalchemy import Engine, text

from motcua.core.audit import Actor
from motcua.core.settings import Settings
from tests.conftest import MakeTenant
from tests.dossiers.conftest import BIRTH, PDF, SignIn, csrf, in_progress_dossier

CODE = re.compile(r"000\.00\.01\.T01-\d{6}-\d{4}")
ANSWERS = {
    "child_full_name": "Nguyễn Minh Khôi",
    "child_birth_date": date.today().isoformat(),
    "mother_full_name": "Nguyễn Thị Mai",
    "mother_personal_id": "001190001234",
    "has_father": "Không",
}


# What the check page's form sends besides its token: the declaration ticked.
DECLARED = {"declaration": "yes"}


async def _prepare(browser: httpx.AsyncClient, delivery: dict[str, str] | None = None) -> str:
    """Walk the steps of applying (answers, the required document, how to receive the result)
    and return the submission token of the check page."""
    token = await csrf(browser, "/procedures/1.001193/apply")
    uploaded = await browser.post(
        "/procedures/1.001193/apply/files/to-khai",
        data={"_csrf_token": token},
        files={"file": ("tờ khai.pdf", PDF, "application/pdf")},
    )
    assert uploaded.status_code == 303, uploaded.text[:1000]
    done = await browser.post("/procedures/1.001193/apply", data={"_csrf_token": token, **ANSWERS})
    assert done.status_code == 303, done.text[:2000]
    chosen = await browser.post(
        "/procedures/1.001193/apply/delivery",
        data={"_csrf_token": token, **(delivery or {"delivery_method": "desk"})},
    )
    assert chosen.status_code == 303, chosen.text[:2000]
    review = await browser.get("/procedures/1.001193/apply/review")
    match = re.search(r'name="token" value="([^"]+)"', review.text)
    assert match is not None, review.headers.get("location")
    return match.group(1)


async def _submitted(browser: httpx.AsyncClient) -> str:
    """Apply and submit, as ``_prepare`` then the check page's button: the new dossier's code."""
    submit_token = await _prepare(browser)
    token = await csrf(browser, "/procedures/1.001193/apply/review")
    done = await browser.post(
        "/procedures/1.001193/apply/submit", data={"_csrf_token": token, "token": submit_token, **DECLARED}
    )
    code = CODE.search(done.headers["location"])
    assert code is not None
    return code.group(0)


async def test_a_citizen_applies_submits_and_tracks(
    sign_in: SignIn, make_tenant: MakeTenant, client: httpx.AsyncClient, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    browser = await sign_in(tenant)
    form = await browser.get("/procedures/1.001193/apply/answers")
    assert form.status_code == 200
    assert 'value="Nguyễn Thị Mai"' in form.text  # prefilled from the identity
    assert 'value="001190001234"' in form.text
    token = await csrf(browser, "/procedures/1.001193/apply")

    # Errors: listed at the top, next to each field, and nothing typed is lost.
    bad = await browser.post(
        "/procedures/1.001193/apply",
        data={
            "_csrf_token": token,
            "child_full_name": "Nguyễn Minh Khôi",
            "mother_personal_id": "12345",
            "child_birth_date": "2999-01-01",
            "has_father": "Có",
        },
    )
    assert bad.status_code == 400
    assert "error-summary" in bad.text
    assert "Số định danh của mẹ phải gồm đúng 12 chữ số." in bad.text
    assert "Ngày sinh không được sau ngày" in bad.text
    assert "Vui lòng nhập họ tên cha." in bad.text  # shown because has_father = Có
    assert 'href="#mother_personal_id"' in bad.text
    assert 'value="Nguyễn Minh Khôi"' in bad.text
    assert 'value="12345"' in bad.text

    submit_token = await _prepare(browser)
    review = await browser.get("/procedures/1.001193/apply/review")
    assert "Nguyễn Minh Khôi" in review.text
    assert "tờ khai.pdf" in review.text
    done = await browser.post(
        "/procedures/1.001193/apply/submit", data={"_csrf_token": token, "token": submit_token, **DECLARED}
    )
    assert done.status_code == 303
    slip_url = done.headers["location"]
    code = CODE.search(slip_url)
    assert code is not None
    slip = await browser.get(slip_url)
    assert code.group(0) in slip.text
    assert "Hẹn trả kết quả" in slip.text
    assert "<svg" in slip.text
    pdf = await browser.get(slip_url.split("?")[0] + ".pdf")  # the slip's own address, not the redirect's
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")

    mine = await browser.get("/my/dossiers")
    assert code.group(0) in mine.text
    assert "Mới đăng ký" in mine.text

    # Public tracking: status and dates, never the applicant.
    host = {"host": f"{tenant.slug}.localhost"}
    public = await client.get("/tracking", params={"code": code.group(0)}, headers=host)
    assert public.status_code == 200
    assert "Mới đăng ký" in public.text
    assert "Nguyễn Thị Mai" not in public.text
    assert "001190001234" not in public.text
    api = await client.get(f"/api/v1/tracking/{code.group(0)}", headers=host)
    assert api.json()["status_label"] == "Mới đăng ký"
    assert set(api.json()) == {"code", "procedure_name", "status", "status_label", "received_at", "due_at"}

    with engine.connect() as conn:
        history = conn.execute(
            text(f"SELECT to_status, actor FROM {tenant.schema}.dossier_history ORDER BY id")
        ).all()
        drafts = conn.execute(text(f"SELECT count(*) FROM {tenant.schema}.dossier_drafts")).scalar()
    assert [h.to_status for h in history] == ["submitted"]
    assert drafts == 0


async def test_the_draft_survives_a_dropped_session(sign_in: SignIn, make_tenant: MakeTenant) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    browser = await sign_in(tenant)
    token = await csrf(browser, "/procedures/1.001193/apply")
    saved = await browser.post(
        "/procedures/1.001193/apply/draft",
        data={"_csrf_token": token, "child_full_name": "Trần Gia Bảo"},
        headers={"hx-request": "true"},
    )
    assert "Đã lưu nháp" in saved.text
    again = await sign_in(tenant)  # a new session, as after a timeout
    form = await again.get("/procedures/1.001193/apply/answers")
    assert 'value="Trần Gia Bảo"' in form.text


async def test_double_submit_creates_one_dossier(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    browser = await sign_in(tenant)
    submit_token = await _prepare(browser)
    token = await csrf(browser, "/procedures/1.001193/apply/review")
    responses = await asyncio.gather(
        *(
            browser.post(
                "/procedures/1.001193/apply/submit",
                data={"_csrf_token": token, "token": submit_token, **DECLARED},
            )
            for _ in range(3)
        )
    )
    locations = {r.headers.get("location") for r in responses}
    assert len(locations) == 1, [r.text[:300] for r in responses]
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {tenant.schema}.dossiers")).scalar() == 1


async def test_fifty_concurrent_submissions_get_fifty_consecutive_codes(
    make_tenant: MakeTenant, live_settings: Settings, engine: Engine
) -> None:
    from motcua.catalog.services import get_procedure
    from motcua.core.db import Database
    from motcua.dossiers.services import Submission, open_draft, submit_dossier
    from motcua.identity.models import Citizen
    from motcua.identity.oidc import VerifiedIdentity
    from motcua.identity.services import record_tenant_login

    procedure_raw = {**BIRTH, "documents": []}
    tenant = make_tenant(procedures=[procedure_raw])
    db = Database(live_settings.database_url or "", pool_size=20)
    tokens: list[tuple[int, str]] = []
    try:
        for i in range(50):
            async with db.tenant_session(tenant) as session:
                pid = f"0011900{i:05d}"
                login = await record_tenant_login(
                    session,
                    VerifiedIdentity("https://eid.test", f"s{i}", pid, {"name": f"Công dân {i}"}, "", None),
                )
                procedure = await get_procedure(session, "1.001193")
                assert procedure is not None
                draft = await open_draft(session, login.citizen_id or 0, procedure, {**ANSWERS})
                tokens.append((login.citizen_id or 0, draft.token))

        async def submit(citizen_id: int, token: str) -> str:
            async with db.tenant_session(tenant) as session:
                citizen = await session.get(Citizen, citizen_id)
                procedure = await get_procedure(session, "1.001193")
                assert citizen is not None and procedure is not None
                outcome = await submit_dossier(
                    session,
                    tenant,
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
    numbers = sorted(int(c.rsplit("-", 1)[1]) for c in codes)
    assert numbers == list(range(1, 51))
    assert len({c.rsplit("-", 1)[0] for c in codes}) == 1


async def test_bad_uploads_are_refused_with_a_clear_message(sign_in: SignIn, make_tenant: MakeTenant) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    browser = await sign_in(tenant)
    token = await csrf(browser, "/procedures/1.001193/apply")
    url = "/procedures/1.001193/apply/files/to-khai"
    exe = await browser.post(
        url,
        data={"_csrf_token": token},
        files={"file": ("giay-khai-sinh.pdf", b"MZ\x90\x00" + b"\0" * 200, "application/pdf")},
    )
    assert exe.status_code == 400
    assert "EXE" in exe.text
    big = await browser.post(
        url,
        data={"_csrf_token": token},
        files={"file": ("to-khai.pdf", PDF + b"0" * (10 * 1024 * 1024), "application/pdf")},
    )
    assert big.status_code == 400
    assert "10 MB" in big.text
    traversal = await browser.post(
        url, data={"_csrf_token": token}, files={"file": ("../../etc/passwd", PDF, "application/pdf")}
    )
    assert traversal.status_code == 400
    assert "Tên tệp không hợp lệ" in traversal.text
    form = await browser.get("/procedures/1.001193/apply/documents")
    assert 'data-testid="uploaded-to-khai"' not in form.text  # none of them was stored


async def test_other_tenants_cannot_reach_files_or_dossiers(
    sign_in: SignIn, make_tenant: MakeTenant, client: httpx.AsyncClient
) -> None:
    a, b = make_tenant(procedures=[BIRTH]), make_tenant(procedures=[BIRTH])
    on_a = await sign_in(a)
    code = await _submitted(on_a)
    detail = await on_a.get(f"/my/dossiers/{code}")
    file_id = re.search(r'href="/my/files/([0-9a-f]{32})"', detail.text)
    assert file_id is not None
    assert (await on_a.get(f"/my/files/{file_id.group(1)}")).content == PDF

    on_b = await sign_in(b)  # the same person, on another portal
    assert (await on_b.get(f"/my/files/{file_id.group(1)}")).status_code == 404
    assert (await on_b.get(f"/my/dossiers/{code}")).status_code == 404
    hb = {"host": f"{b.slug}.localhost"}
    assert (await client.get(f"/api/v1/tracking/{code}", headers=hb)).status_code == 404
    assert (await client.get("/tracking", params={"code": code}, headers=hb)).status_code == 404


async def test_another_citizen_of_the_same_portal_cannot_reach_a_dossier(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    """The dossier page reads by code and citizen in one statement (dossiers.page): a neighbour
    who knows the code gets the unknown code's answer on every page and action of it."""
    tenant = make_tenant(procedures=[BIRTH])
    owner = await sign_in(tenant)
    code = await _submitted(owner)
    mine = await owner.get(f"/my/dossiers/{code}")
    assert mine.status_code == 200 and code in mine.text
    assert (await owner.get(f"/my/dossiers/{code}/slip")).status_code == 200

    neighbour = await sign_in(tenant, name="Người Hàng Xóm", personal_id="079085000333")
    for path in ("", "/slip", "/rating"):
        page = await neighbour.get(f"/my/dossiers/{code}{path}")
        assert page.status_code == 404, path
        assert "Đăng ký khai sinh" not in page.text, path  # nothing of the dossier shows
    their_token = await csrf(neighbour, "/my/dossiers")
    withdraw = await neighbour.post(
        f"/my/dossiers/{code}/withdraw", data={"_csrf_token": their_token, "reason": "Thử"}
    )
    assert withdraw.status_code == 404
    with engine.connect() as conn:
        status = conn.execute(
            text(f"SELECT status FROM {tenant.schema}.dossiers WHERE code = :c"), {"c": code}
        ).scalar_one()
    assert status == "submitted"  # the neighbour's withdrawal changed nothing
    assert code not in (await neighbour.get("/my/dossiers")).text


async def test_withdraw_and_history_is_append_only(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    browser = await sign_in(tenant)
    submit_token = await _prepare(browser)
    token = await csrf(browser, "/procedures/1.001193/apply/review")
    done = await browser.post(
        "/procedures/1.001193/apply/submit", data={"_csrf_token": token, "token": submit_token, **DECLARED}
    )
    code = CODE.search(done.headers["location"])
    assert code is not None
    out = await browser.post(
        f"/my/dossiers/{code.group(0)}/withdraw", data={"_csrf_token": token, "reason": "Nộp nhầm"}
    )
    assert out.status_code == 303
    assert "Công dân rút hồ sơ" in (await browser.get(f"/my/dossiers/{code.group(0)}")).text
    again = await browser.post(f"/my/dossiers/{code.group(0)}/withdraw", data={"_csrf_token": token})
    assert again.status_code == 409
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT to_status, reason FROM {tenant.schema}.dossier_history ORDER BY id")
        ).all()
    assert [tuple(r) for r in rows] == [("submitted", "Nộp hồ sơ trực tuyến"), ("withdrawn", "Nộp nhầm")]
    import pytest
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(f"UPDATE {tenant.schema}.dossier_history SET reason = 'sửa'"))


async def test_a_tracked_code_shows_each_portal_its_own_dossier_and_each_change(
    client: httpx.AsyncClient, sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    """The tracking result is rendered once per process for the status it shows (core.fragments):
    the same code on two portals, or the same dossier after a change, never shows another's."""
    tenants = [make_tenant(procedures=[BIRTH]) for _ in range(2)]
    for tenant, due in zip(tenants, ("2031-03-04 09:00+07", "2032-05-06 10:00+07"), strict=True):
        await sign_in(tenant)  # the applicant
        with engine.begin() as conn:
            in_progress_dossier(conn, tenant, "TRK-1", str(BIRTH["code"]))
            conn.execute(text(f"UPDATE {tenant.schema}.dossiers SET due_at = :due"), {"due": due})

    async def result(tenant_index: int) -> str:
        host = {"host": f"{tenants[tenant_index].slug}.localhost"}
        page = await client.get("/tracking", params={"code": "TRK-1"}, headers=host)
        assert page.status_code == 200
        return page.text.split('data-testid="tracking-result"', 1)[1].split("</dl>", 1)[0]

    for _ in range(2):  # the second lookup is the one served from the rendered result
        first, second = await result(0), await result(1)
        assert "ngày 04/03/2031" in first and "2032" not in first
        assert "ngày 06/05/2032" in second and "2031" not in second
        assert "Đang xử lý" in first and "Đang xử lý" in second

    # Each value on its own: the status, then the due date.
    for change, shows in (
        ("status = 'supplement_requested'", "Yêu cầu bổ sung"),
        ("due_at = '2033-07-08 11:00+07'", "ngày 08/07/2033"),
    ):
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE {tenants[0].schema}.dossiers SET {change}"))
        assert shows in await result(0), change
    unchanged = await result(1)
    assert "Đang xử lý" in unchanged and "ngày 06/05/2032" in unchanged


async def test_tracking_is_rate_limited(client: httpx.AsyncClient, make_tenant: MakeTenant) -> None:
    tenant = make_tenant()
    host = {"host": f"{tenant.slug}.localhost"}
    statuses = [
        (await client.get("/tracking", params={"code": f"X-{i}"}, headers=host)).status_code
        for i in range(35)
    ]
    assert statuses[:5] == [404] * 5
    assert statuses[-1] == 429


async def test_files_are_served_to_the_owner_and_not_to_officers_before_submission(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    from motcua.identity.schemas import RoleGrantCreate
    from motcua.identity.services import grant_role_sync

    tenant, other = make_tenant(procedures=[BIRTH]), make_tenant(procedures=[BIRTH])
    owner = await sign_in(tenant)
    await _prepare(owner)
    form = await owner.get("/procedures/1.001193/apply/documents")
    file_id = re.search(r'href="/my/files/([0-9a-f]{32})"', form.text)
    assert file_id is not None

    for t in (tenant, other):
        grant_role_sync(
            engine, t, RoleGrantCreate.parse("079085000111", "officer"), actor=Actor.operator("test")
        )
    officer = await sign_in(tenant, name="Cán Bộ Một", personal_id="079085000111")
    # Officers read the files of their units' dossiers only (backoffice.routes.officer_file,
    # tests/backoffice/test_unit_scope.py): a draft's upload is in none.
    assert (await officer.get(f"/officer/files/{file_id.group(1)}")).status_code == 404
    assert (await officer.get(f"/my/files/{file_id.group(1)}")).status_code == 404  # not the owner's route

    stranger = await sign_in(tenant, name="Người Lạ", personal_id="079085000222")
    assert (await stranger.get(f"/my/files/{file_id.group(1)}")).status_code == 404
    assert (await stranger.get(f"/officer/files/{file_id.group(1)}")).status_code == 403
    officer_elsewhere = await sign_in(other, name="Cán Bộ Một", personal_id="079085000111")
    assert (await officer_elsewhere.get(f"/officer/files/{file_id.group(1)}")).status_code == 404
