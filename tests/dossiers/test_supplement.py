"""A supplement request pauses the legal clock; the citizen's answer resumes it and moves the
due date later by exactly the working time the dossier waited."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
import pytest
from sqlalchemy import select

from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import VIETNAM
from motcua.dossiers.lifecycle import Action, DossierError, transition
from motcua.dossiers.models import Dossier, DossierStatus
from motcua.dossiers.services import request_supplement
from tests.conftest import MakeTenant
from tests.dossiers.conftest import BIRTH, PDF, SignIn, csrf
from tests.dossiers.test_journey import CODE, _prepare


async def _submitted(sign_in: SignIn, make_tenant: MakeTenant) -> tuple[httpx.AsyncClient, str, Tenant]:
    tenant = make_tenant(procedures=[BIRTH])
    browser = await sign_in(tenant)
    token = await _prepare(browser)
    form_token = await csrf(browser, "/procedures/1.001193/apply/review")
    done = await browser.post(
        "/procedures/1.001193/apply/submit",
        data={"_csrf_token": form_token, "token": token, "declaration": "yes"},
    )
    code = CODE.search(done.headers["location"])
    assert code is not None
    return browser, code.group(0), tenant


async def test_supplement_pauses_and_resumes_the_clock(
    sign_in: SignIn, make_tenant: MakeTenant, live_settings: Settings
) -> None:
    browser, code, tenant = await _submitted(sign_in, make_tenant)
    db = Database(live_settings.database_url or "", pool_size=1)
    try:
        async with db.tenant_session(tenant) as session:
            dossier = await session.scalar(select(Dossier).where(Dossier.code == code))
            assert dossier is not None
            due_before = dossier.due_at
            reason, items = "Thiếu giấy chứng sinh", ["Giấy chứng sinh"]
            with pytest.raises(DossierError, match="tiếp nhận"):  # a dossier must be accepted first
                await request_supplement(
                    session, dossier, actor=Actor.officer("1"), reason=reason, items=items
                )
            await transition(session, dossier, Action.ACCEPT, actor=Actor.officer("1"))
            with pytest.raises(DossierError, match="lý do"):
                await request_supplement(session, dossier, actor=Actor.officer("1"), reason=" ", items=[])
            await request_supplement(session, dossier, actor=Actor.officer("1"), reason=reason, items=items)
    finally:
        await db.dispose()

    page = await browser.get(f"/my/dossiers/{code}")
    assert "Yêu cầu bổ sung hồ sơ" in page.text
    assert "Thiếu giấy chứng sinh" in page.text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    # Answering without a document is refused, and changes nothing.
    refused = await browser.post(f"/my/dossiers/{code}/supplement", data={"_csrf_token": token.group(1)})
    assert refused.status_code == 409
    assert "tải lên giấy tờ bổ sung" in refused.text
    exe = await browser.post(
        f"/my/dossiers/{code}/supplement/files",
        data={"_csrf_token": token.group(1)},
        files={"file": ("giay-chung-sinh.pdf", b"MZ" + b"\0" * 100, "application/pdf")},
    )
    assert exe.status_code == 400
    ok = await browser.post(
        f"/my/dossiers/{code}/supplement/files",
        data={"_csrf_token": token.group(1)},
        files={"file": ("giay-chung-sinh.pdf", PDF, "application/pdf")},
    )
    assert ok.status_code == 303
    answered = await browser.post(
        f"/my/dossiers/{code}/supplement", data={"_csrf_token": token.group(1), "note": "Đã bổ sung"}
    )
    assert answered.status_code == 303

    db = Database(live_settings.database_url or "", pool_size=1)
    try:
        async with db.tenant_session(tenant) as session:
            dossier = await session.scalar(select(Dossier).where(Dossier.code == code))
            assert dossier is not None
            assert dossier.status == DossierStatus.IN_PROGRESS
            assert dossier.supplement is None
            assert dossier.pauses[-1]["end"] is not None
            assert dossier.due_at >= due_before
    finally:
        await db.dispose()
    detail = await browser.get(f"/my/dossiers/{code}")
    assert "Đang xử lý" in detail.text
    assert "Yêu cầu bổ sung hồ sơ" not in detail.text


async def test_the_due_date_moves_by_the_paused_working_time(
    make_tenant: MakeTenant, live_settings: Settings
) -> None:
    from motcua.catalog.services import get_procedure
    from motcua.dossiers.services import (
        Submission,
        add_supplement_file,
        answer_supplement,
        open_draft,
        submit_dossier,
    )
    from motcua.dossiers.storage import StoredObject
    from motcua.dossiers.uploads import PDF as PDF_TYPE
    from motcua.dossiers.uploads import ValidatedUpload
    from motcua.identity.models import Citizen
    from motcua.identity.oidc import VerifiedIdentity
    from motcua.identity.services import record_tenant_login

    tenant = make_tenant(procedures=[{**BIRTH, "documents": []}])
    answers = {
        "child_full_name": "Lê Bảo Anh",
        "child_birth_date": "2026-11-20",
        "mother_full_name": "Lê Thị Hoa",
        "mother_personal_id": "001190005555",
        "has_father": "Không",
    }

    def monday(hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 11, 30, hour, minute, tzinfo=VIETNAM)

    db = Database(live_settings.database_url or "", pool_size=1)
    try:
        async with db.tenant_session(tenant) as session:
            login = await record_tenant_login(
                session,
                VerifiedIdentity(
                    "https://eid.test", "s-hoa", "001190005555", {"name": "Lê Thị Hoa"}, "", None
                ),
            )
            citizen = await session.get(Citizen, login.citizen_id)
            procedure = await get_procedure(session, "1.001193")
            assert citizen is not None and procedure is not None
            draft = await open_draft(session, citizen.id, procedure, answers)
            outcome = await submit_dossier(
                session,
                tenant,
                citizen=citizen,
                procedure=procedure,
                token=draft.token,
                actor=Actor.citizen(citizen.id),
                now=monday(8),
            )
            assert isinstance(outcome, Submission)
            dossier = outcome.dossier
            # 1 working day from Monday 08:00 is Tuesday 08:00 (a plain week: 24 Nov 2026 is a holiday).
            assert dossier.due_at.astimezone(VIETNAM) == datetime(2026, 12, 1, 8, 0, tzinfo=VIETNAM)
            await transition(session, dossier, Action.ACCEPT, actor=Actor.officer("1"))
            await request_supplement(
                session,
                dossier,
                actor=Actor.officer("1"),
                reason="Ảnh mờ",
                items=["Tờ khai chụp lại"],
                now=monday(10),
            )
            upload = ValidatedUpload(
                detected=PDF_TYPE, display_name="to-khai.pdf", size=len(PDF), sha256="0" * 64, data=PDF
            )
            await add_supplement_file(
                session,
                dossier,
                upload,
                StoredObject(f"{tenant.schema}/2026/11/{'a' * 32}", len(PDF), "0" * 64, "application/pdf"),
            )
            await answer_supplement(
                session, tenant, dossier, actor=Actor.citizen(citizen.id), note="", now=monday(15)
            )
            # Paused 10:00–15:00 Monday = 1.5 h (to 11:30) + 1.5 h (13:30–15:00) = 3 working hours,
            # so Tuesday 08:00 becomes Tuesday 11:00.
            assert dossier.due_at.astimezone(VIETNAM) == datetime(2026, 12, 1, 11, 0, tzinfo=VIETNAM)
            assert dossier.status == DossierStatus.IN_PROGRESS
    finally:
        await db.dispose()
