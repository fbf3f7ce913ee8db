"""The officer back office against the real app: queues, the state machine, concurrency,
results, apology slips, and tenant isolation."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, text

from motcua.core.audit import Actor
from motcua.core.tenant import Tenant
from motcua.dossiers.lifecycle import RULES, Action, allowed_actions
from motcua.dossiers.models import DossierStatus
from motcua.identity.schemas import RoleGrantCreate
from motcua.identity.services import grant_role_sync
from tests.conftest import MakeTenant
from tests.dossiers.conftest import BIRTH, PDF, SignIn, csrf
from tests.dossiers.test_journey import CODE, _prepare

OFFICER = "079085000111"
OTHER_OFFICER = "079085000333"


async def _submit(
    sign_in: SignIn, tenant: Tenant, *, email: str | None = None
) -> tuple[httpx.AsyncClient, str]:
    citizen = await sign_in(tenant, email=email)
    token = await _prepare(citizen)
    form = await csrf(citizen, "/procedures/1.001193/apply/review")
    done = await citizen.post(
        "/procedures/1.001193/apply/submit", data={"_csrf_token": form, "token": token, "declaration": "yes"}
    )
    code = CODE.search(done.headers["location"])
    assert code is not None
    return citizen, code.group(0)


async def _officer(sign_in: SignIn, engine: Engine, tenant: Tenant, pid: str = OFFICER) -> httpx.AsyncClient:
    grant_role_sync(engine, tenant, RoleGrantCreate.parse(pid, "officer"), actor=Actor.operator("test"))
    return await sign_in(tenant, name=f"Cán bộ {pid[-3:]}", personal_id=pid)


async def _act(officer: httpx.AsyncClient, code: str, action: str, **fields: str) -> httpx.Response:
    page = await officer.get(f"/officer/dossiers/{code}")
    version = re.search(r'name="version" value="(\d+)"', page.text)
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert version is not None and token is not None, page.text[:500]
    return await officer.post(
        f"/officer/dossiers/{code}/actions/{action}",
        data={"_csrf_token": token.group(1), "version": version.group(1), **fields},
    )


@pytest.mark.parametrize("status", list(DossierStatus))
def test_every_status_allows_exactly_its_actions(status: DossierStatus) -> None:
    officer = set(allowed_actions(status, "officer"))
    citizen = set(allowed_actions(status, "citizen"))
    expected_officer = {a for a, r in RULES.items() if r.by == "officer" and status in r.sources}
    assert officer == expected_officer
    final = status in (
        DossierStatus.REFUSED,
        DossierStatus.WITHDRAWN,
        DossierStatus.STOPPED,
        DossierStatus.DELIVERED,
    )
    assert (officer | citizen == set()) == final
    if status == DossierStatus.SUBMITTED:
        assert officer == {Action.ACCEPT, Action.REFUSE}
    if status == DossierStatus.PROCESSED:
        assert officer == {Action.DELIVER}
        assert citizen == set()  # a processed dossier can no longer be withdrawn


async def test_an_officer_takes_a_dossier_from_reception_to_result(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    citizen, code = await _submit(sign_in, tenant)
    officer = await _officer(sign_in, engine, tenant)

    queue = await officer.get("/officer?queue=new")
    assert code in queue.text
    assert 'data-queue-count="new">(1)' in queue.text
    # Refusing needs a reason; an action of another status is refused; nothing changes.
    assert (await _act(officer, code, "refuse")).status_code == 409
    refused = await _act(officer, code, "finish")
    assert refused.status_code == 409
    assert "Không thể" in refused.text
    assert (await _act(officer, code, "accept")).status_code == 303
    assert (await _act(officer, code, "start")).status_code == 303
    no_result = await _act(officer, code, "finish")
    assert no_result.status_code == 409
    assert "văn bản kết quả" in no_result.text
    page = await officer.get(f"/officer/dossiers/{code}")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    uploaded = await officer.post(
        f"/officer/dossiers/{code}/results",
        data={"_csrf_token": token.group(1)},
        files={"file": ("giay-khai-sinh.pdf", PDF, "application/pdf")},
    )
    assert uploaded.status_code == 303
    # Uploaded is not decided: until the dossier is processed the result is a draft (the leader
    # may still send it back), so the applicant sees it nowhere, not even by its address.
    with engine.connect() as conn:
        result_id = conn.execute(
            text(
                f"SELECT f.id FROM {tenant.schema}.dossier_files f JOIN {tenant.schema}.dossiers d "
                "ON d.id = f.dossier_id WHERE d.code = :c AND f.document_code = 'ket-qua'"
            ),
            {"c": code},
        ).scalar_one()
    assert result_id not in (await citizen.get(f"/my/dossiers/{code}")).text
    assert result_id not in (await citizen.get("/my/documents")).text
    assert (await citizen.get(f"/my/files/{result_id}")).status_code == 404
    assert (await _act(officer, code, "finish")).status_code == 303
    # Processed: the result is the applicant's (the signed copy, filed under the same row).
    assert result_id in (await citizen.get(f"/my/dossiers/{code}")).text
    assert result_id in (await citizen.get("/my/documents")).text
    released = await citizen.get(f"/my/files/{result_id}")
    assert released.status_code == 200 and released.content.startswith(b"%PDF")
    assert (await _act(officer, code, "deliver")).status_code == 303

    mine = await citizen.get(f"/my/dossiers/{code}")
    assert "Đã trả kết quả" in mine.text
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT h.from_status, h.to_status, h.actor, h.ip FROM {tenant.schema}.dossier_history h "
                f"JOIN {tenant.schema}.dossiers d ON d.id = h.dossier_id WHERE d.code = :c ORDER BY h.id"
            ),
            {"c": code},
        ).all()
    # The status changes, in order; the rows in between (same status before and after) are the
    # internal steps the officer moved the dossier through (workflow: history with who and when).
    assert [(r.from_status, r.to_status) for r in rows if r.from_status != r.to_status] == [
        (None, "submitted"),
        ("submitted", "accepted"),
        ("accepted", "in_progress"),
        ("in_progress", "processed"),
        ("processed", "delivered"),
    ]
    assert any(r.from_status == r.to_status for r in rows)
    assert all(r.actor == f"officer:{OFFICER}" and r.ip for r in rows[1:])


async def test_two_officers_acting_at_once_one_wins(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    _, code = await _submit(sign_in, tenant)
    first = await _officer(sign_in, engine, tenant)
    second = await _officer(sign_in, engine, tenant, OTHER_OFFICER)
    pages = [await o.get(f"/officer/dossiers/{code}") for o in (first, second)]
    forms = []
    for page in pages:
        version = re.search(r'name="version" value="(\d+)"', page.text)
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert version is not None and token is not None
        forms.append(
            {
                "_csrf_token": token.group(1),
                "version": version.group(1),
                "reason": "Hồ sơ không hợp lệ",
                "confirm": "yes",  # refusing is confirmed (test_workspace_actions)
            }
        )
    accept, refuse = await asyncio.gather(
        first.post(f"/officer/dossiers/{code}/actions/accept", data=forms[0]),
        second.post(f"/officer/dossiers/{code}/actions/refuse", data=forms[1]),
    )
    assert sorted([accept.status_code, refuse.status_code]) == [303, 409]
    loser = accept if accept.status_code == 409 else refuse
    assert "vừa được người khác cập nhật" in loser.text
    with engine.connect() as conn:
        changes = conn.execute(
            text(f"SELECT count(*) FROM {tenant.schema}.dossier_history WHERE from_status = 'submitted'")
        ).scalar()
    assert changes == 1


async def test_apology_slip_moves_the_due_date_later_only(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    citizen, code = await _submit(sign_in, tenant)
    officer = await _officer(sign_in, engine, tenant)
    page = await officer.get(f"/officer/dossiers/{code}")
    version = re.search(r'name="version" value="(\d+)"', page.text)
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert version is not None and token is not None
    base = {"_csrf_token": token.group(1), "version": version.group(1)}
    earlier = await officer.post(
        f"/officer/dossiers/{code}/apology", data={**base, "new_date": "2020-01-01", "reason": "Chậm"}
    )
    assert earlier.status_code == 409
    assert "phải sau" in earlier.text
    later = (datetime.now() + timedelta(days=30)).date().isoformat()
    ok = await officer.post(
        f"/officer/dossiers/{code}/apology",
        data={**base, "new_date": later, "reason": "Chờ xác minh hộ tịch"},
    )
    assert ok.status_code == 303
    with engine.connect() as conn:
        slips = conn.execute(text(f"SELECT reason FROM {tenant.schema}.apology_slips")).scalars().all()
    assert slips == ["Chờ xác minh hộ tịch"]
    detail = await citizen.get(f"/my/dossiers/{code}")
    assert "Chờ xác minh hộ tịch" in detail.text  # the citizen sees the apology in the history


async def test_officers_see_only_their_own_tenant(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    a, b = make_tenant(procedures=[BIRTH]), make_tenant(procedures=[BIRTH])
    citizen, code = await _submit(sign_in, a)
    officer_b = await _officer(sign_in, engine, b)
    assert (await officer_b.get(f"/officer/dossiers/{code}")).status_code == 404
    assert code not in (await officer_b.get("/officer?queue=new")).text
    assert (await citizen.get("/officer")).status_code == 403
    assert (await citizen.get(f"/officer/dossiers/{code}")).status_code == 403


async def test_reception_overdue_dossiers_show_in_the_overdue_queue(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    _, code = await _submit(sign_in, tenant)
    with engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE {tenant.schema}.dossiers SET reception_due_at = now() - interval '1 hour' "
                "WHERE code = :c"
            ),
            {"c": code},
        )
    officer = await _officer(sign_in, engine, tenant)
    overdue = await officer.get("/officer?queue=overdue")
    assert code in overdue.text
    assert 'data-queue-count="overdue">(1)' in overdue.text


async def test_results_land_in_the_document_store_and_can_be_reused(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    citizen, code = await _submit(sign_in, tenant)
    officer = await _officer(sign_in, engine, tenant)
    for action in ("accept", "start"):
        assert (await _act(officer, code, action)).status_code == 303
    page = await officer.get(f"/officer/dossiers/{code}")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    await officer.post(
        f"/officer/dossiers/{code}/results",
        data={"_csrf_token": token.group(1)},
        files={"file": ("giay-khai-sinh-ket-qua.pdf", PDF, "application/pdf")},
    )
    for action in ("finish", "deliver"):
        assert (await _act(officer, code, action)).status_code == 303

    store = await citizen.get("/my/documents")
    assert "giay-khai-sinh-ket-qua.pdf" in store.text
    assert "Kết quả" in store.text
    result_id = re.search(r'href="/my/files/([0-9a-f]{32})">giay-khai-sinh-ket-qua.pdf', store.text)
    assert result_id is not None

    # A new dossier reuses the stored document instead of a new upload.
    form = await citizen.get("/procedures/1.001193/apply/documents")
    assert "Hoặc dùng lại giấy tờ trong kho của bạn" in form.text
    form_token = re.search(r'name="_csrf_token" value="([^"]+)"', form.text)
    assert form_token is not None
    reused = await citizen.post(
        "/procedures/1.001193/apply/reuse/to-khai",
        data={"_csrf_token": form_token.group(1), "file_id": result_id.group(1)},
    )
    assert reused.status_code == 303
    again = await citizen.get("/procedures/1.001193/apply/documents")
    assert "giay-khai-sinh-ket-qua.pdf" in again.text.split("Hoặc dùng lại")[0]
    # Someone else's stored document cannot be taken.
    stranger = await sign_in(tenant, name="Người Khác", personal_id="079085000444")
    other_form = await stranger.get("/procedures/1.001193/apply")
    other_token = re.search(r'name="_csrf_token" value="([^"]+)"', other_form.text)
    assert other_token is not None
    refused = await stranger.post(
        "/procedures/1.001193/apply/reuse/to-khai",
        data={"_csrf_token": other_token.group(1), "file_id": result_id.group(1)},
    )
    assert refused.status_code == 400
    assert "Không tìm thấy giấy tờ trong kho" in refused.text


async def test_queues_filter_by_field_and_procedure(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    other = {**BIRTH, "code": "2.000488", "name": "Cấp Phiếu lý lịch tư pháp", "field": "Lý lịch tư pháp"}
    tenant = make_tenant(procedures=[BIRTH, other])
    _, code = await _submit(sign_in, tenant)
    officer = await _officer(sign_in, engine, tenant)
    civil = await officer.get("/officer", params={"queue": "new", "field": "Hộ tịch"})
    assert code in civil.text
    assert '<option value="Hộ tịch" selected>' in civil.text
    judicial = await officer.get("/officer", params={"queue": "new", "field": "Lý lịch tư pháp"})
    assert code not in judicial.text
    by_code = await officer.get("/officer", params={"queue": "new", "procedure": "2.000488"})
    assert code not in by_code.text


async def test_a_long_queue_pages_by_due_date_without_repeating_or_skipping(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    _, first = await _submit(sign_in, tenant)
    # 120 more waiting dossiers, several sharing a due date (ties are ordered by id).
    with engine.begin() as conn:
        conn.execute(
            text(
                f"""
                INSERT INTO {tenant.schema}.dossiers (code, procedure_id, procedure_code, procedure_name,
                    form_version, citizen_id, applicant_name, applicant_personal_id, status, channel,
                    data, fee_vnd, agency_code, received_at, due_at, reception_due_at, idempotency_key)
                SELECT 'PAGE-' || lpad(g::text, 3, '0'), d.procedure_id, d.procedure_code, d.procedure_name,
                    d.form_version, d.citizen_id, 'Người nộp ' || g, d.applicant_personal_id, 'submitted',
                    2, '{{}}'::jsonb, 0, d.agency_code, now(), now() + (g / 3) * interval '1 hour',
                    now() + interval '1 day', 'page-' || g
                FROM generate_series(1, 120) g, {tenant.schema}.dossiers d WHERE d.code = :first
                """
            ),
            {"first": first},
        )
    officer = await _officer(sign_in, engine, tenant)
    seen: list[str] = []
    url: str | None = "/officer?queue=new"
    pages = 0
    while url is not None:
        page = await officer.get(url)
        assert page.status_code == 200
        seen += re.findall(r'href="/officer/dossiers/([^"]+)"', page.text)
        after = re.search(r'href="(/officer\?queue=new&(?:amp;)?sau=[^"]+)" rel="next"', page.text)
        url = after.group(1).replace("&amp;", "&") if after else None
        pages += 1
        if pages > 1:
            assert "Về trang đầu" in page.text
    assert pages == 3
    assert len(seen) == len(set(seen)) == 121
    assert set(seen) == {first} | {f"PAGE-{g:03d}" for g in range(1, 121)}
    # A malformed cursor is the first page, not an error.
    again = await officer.get("/officer", params={"queue": "new", "sau": "not-a-cursor' OR 1=1"})
    assert again.status_code == 200
    assert re.findall(r'href="/officer/dossiers/([^"]+)"', again.text)[:50] == seen[:50]
