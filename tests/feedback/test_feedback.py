"""Feedback (PAKN): citizens send, officers answer once within working days; tenants and
people stay apart; the satisfaction summary counts what the indicator needs."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import VIETNAM
from motcua.dossiers.models import Dossier
from motcua.feedback.services import (
    FeedbackError,
    answer_feedback,
    list_feedback_for_officers,
    rate_dossier,
    satisfaction_summary,
    send_feedback,
)
from tests.backoffice.test_workspace import OFFICER, _officer, _submit
from tests.conftest import MakeTenant
from tests.dossiers.conftest import BIRTH, SignIn, csrf

OTHER = "001190009999"


@pytest.fixture
async def db(live_settings: Settings) -> AsyncIterator[Database]:
    database = Database(live_settings.database_url or "", pool_size=2)
    yield database
    await database.dispose()


def _citizen_id(engine: Engine, tenant: Tenant, personal_id: str = "001190001234") -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(f"SELECT id FROM {tenant.schema}.citizens WHERE personal_id = :p"), {"p": personal_id}
            ).scalar_one()
        )


async def _send(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    token = await csrf(client, "/feedback")
    return await client.post("/feedback", data={"_csrf_token": token, **fields})


async def test_a_citizen_sends_feedback_and_errors_keep_the_input(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    citizen, code = await _submit(sign_in, tenant)
    other = await sign_in(tenant, name="Trần Văn Bình", personal_id=OTHER)

    assert (await citizen.get("/feedback")).status_code == 200
    bad = await _send(citizen, subject="", content="y" * 4001, dossier_code="000.00.01.T01-000000-9999")
    assert bad.status_code == 400
    assert "Vui lòng nhập tiêu đề" in bad.text
    assert "4000 ký tự" in bad.text
    assert "Không tìm thấy hồ sơ có mã này" in bad.text
    assert "y" * 4001 + "</textarea>" in bad.text
    assert 'value="000.00.01.T01-000000-9999"' in bad.text
    # A related dossier must be the sender's own.
    foreign = await _send(other, subject="Hỏi về hồ sơ", content="Nội dung", dossier_code=code)
    assert foreign.status_code == 400
    assert "Không tìm thấy hồ sơ có mã này" in foreign.text
    assert 'value="Hỏi về hồ sơ"' in foreign.text

    sent = await _send(citizen, subject="Hồ sơ chậm trả", content="Đã quá hẹn hai ngày.", dossier_code=code)
    assert sent.status_code == 303
    assert sent.headers["location"] == "/feedback?sent=true#mine"
    mine = await citizen.get("/feedback?sent=true")
    assert 'data-testid="sent"' in mine.text
    assert "Hồ sơ chậm trả" in mine.text and "Đang chờ trả lời" in mine.text
    with engine.connect() as conn:
        row = conn.execute(
            text(
                f"SELECT f.subject, d.code FROM {tenant.schema}.feedback f "
                f"JOIN {tenant.schema}.dossiers d ON d.id = f.dossier_id"
            )
        ).one()
    assert tuple(row) == ("Hồ sơ chậm trả", code)
    # Another citizen sees only their own.
    assert "Hồ sơ chậm trả" not in (await other.get("/feedback")).text
    # The dossier page offers feedback about that dossier, prefilled.
    assert f"/feedback?dossier={code}" in (await citizen.get(f"/my/dossiers/{code}")).text
    assert f'value="{code}"' in (await citizen.get(f"/feedback?dossier={code}")).text


async def test_the_answer_deadline_counts_working_days(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine, db: Database
) -> None:
    tenant = make_tenant()
    await sign_in(tenant)
    citizen_id = _citizen_id(engine, tenant)
    friday = datetime(2026, 3, 6, 10, 0, tzinfo=VIETNAM)
    one_day = dataclasses.replace(tenant, settings={**tenant.settings, "feedback_answer_days": 1})
    async with db.tenant_session(tenant) as session:
        quick = await send_feedback(
            session, one_day, citizen_id=citizen_id, subject="A", content="B", now=friday
        )
        default = await send_feedback(
            session, tenant, citizen_id=citizen_id, subject="C", content="D", now=friday
        )
    # Friday 10:00 + 1 working day skips Saturday and Sunday: Monday 10:00.
    assert quick.due_at.astimezone(VIETNAM) == datetime(2026, 3, 9, 10, 0, tzinfo=VIETNAM)
    # The default 10 working days: two full weeks, Friday 20 March 10:00.
    assert default.due_at.astimezone(VIETNAM) == datetime(2026, 3, 20, 10, 0, tzinfo=VIETNAM)


async def test_officers_answer_once_oldest_first_with_overdue_flagged(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine, db: Database
) -> None:
    tenant = make_tenant()
    citizen = await sign_in(tenant)
    citizen_id = _citizen_id(engine, tenant)
    async with db.tenant_session(tenant) as session:
        old = await send_feedback(
            session,
            tenant,
            citizen_id=citizen_id,
            subject="Phản ánh cũ",
            content="Gửi từ lâu",
            now=datetime(2026, 1, 5, 9, 0, tzinfo=VIETNAM),
        )
        old_id = old.id
    assert (await _send(citizen, subject="Phản ánh mới", content="Vừa gửi")).status_code == 303
    # A citizen is not an officer.
    assert (await citizen.get("/officer/feedback")).status_code == 403

    officer = await _officer(sign_in, engine, tenant)
    listing = await officer.get("/officer/feedback")
    assert listing.status_code == 200
    assert listing.text.index("Phản ánh cũ") < listing.text.index("Phản ánh mới")
    old_item = re.search(rf'<li id="feedback-{old_id}"[^>]*>', listing.text)
    assert old_item is not None and 'data-overdue="true"' in old_item.group(0)
    assert "Chờ trả lời: 2 · quá hạn: 1" in listing.text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', listing.text)
    assert token is not None
    url = f"/officer/feedback/{old_id}/answer"

    empty = await officer.post(url, data={"_csrf_token": token.group(1), "answer": "   "})
    assert empty.status_code == 400
    assert "Vui lòng nhập nội dung trả lời" in empty.text
    answered = await officer.post(
        url, data={"_csrf_token": token.group(1), "answer": "Đã chuyển bộ phận xử lý."}
    )
    assert answered.status_code == 303
    twice = await officer.post(url, data={"_csrf_token": token.group(1), "answer": "Lần hai"})
    assert twice.status_code == 409
    assert "đã được trả lời" in twice.text
    assert (
        await officer.post(
            "/officer/feedback/999999/answer", data={"_csrf_token": token.group(1), "answer": "x"}
        )
    ).status_code == 404

    with engine.connect() as conn:
        row = conn.execute(
            text(
                f"SELECT answer, answered_by, answered_at, due_at FROM {tenant.schema}.feedback WHERE id = :i"
            ),
            {"i": old_id},
        ).one()
    assert row.answer == "Đã chuyển bộ phận xử lý."
    assert row.answered_by == f"officer:{OFFICER}"
    assert row.answered_at > row.due_at  # answered, but late
    after = await officer.get("/officer/feedback")
    # Answered ones go after the waiting one.
    assert after.text.index("Phản ánh mới") < after.text.index("Phản ánh cũ")
    assert "Chờ trả lời: 1 · quá hạn: 0" in after.text
    mine = await citizen.get("/feedback")
    assert "Đã chuyển bộ phận xử lý." in mine.text and "Đã trả lời" in mine.text


async def test_an_officer_of_another_tenant_sees_none_of_it(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    first, second = make_tenant(), make_tenant()
    citizen = await sign_in(first)
    assert (await _send(citizen, subject="Chỉ của tỉnh A", content="Nội dung")).status_code == 303
    with engine.connect() as conn:
        feedback_id = conn.execute(text(f"SELECT id FROM {first.schema}.feedback")).scalar_one()
    outsider = await _officer(sign_in, engine, second)
    listing = await outsider.get("/officer/feedback")
    assert listing.status_code == 200
    assert "Chỉ của tỉnh A" not in listing.text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', (await outsider.get("/feedback")).text)
    assert token is not None
    posted = await outsider.post(
        f"/officer/feedback/{feedback_id}/answer", data={"_csrf_token": token.group(1), "answer": "x"}
    )
    assert posted.status_code == 404
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT answer FROM {first.schema}.feedback")).scalar_one() is None


async def _delivered(session: AsyncSession, code: str) -> Dossier:
    dossier = (
        await session.execute(text("SELECT id FROM dossiers WHERE code = :c"), {"c": code})
    ).scalar_one()
    await session.execute(text("UPDATE dossiers SET status = 'delivered' WHERE id = :i"), {"i": dossier})
    found = await session.get(Dossier, dossier)
    assert found is not None
    await session.refresh(found)
    return found


async def test_satisfaction_summary(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine, db: Database
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    async with db.tenant_session(tenant) as session:
        assert await satisfaction_summary(session) == {
            "rating_count": 0,
            "average_score": None,
            "satisfied_share": None,
            "feedback_total": 0,
            "feedback_answered": 0,
            "feedback_answered_on_time": 0,
        }
    codes = [(await _submit(sign_in, tenant))[1] for _ in range(3)]
    citizen_id = _citizen_id(engine, tenant)
    received = datetime(2026, 3, 2, 9, 0, tzinfo=VIETNAM)  # a Monday
    async with db.tenant_session(tenant) as session:
        for code, score in zip(codes, (5, 4, 2), strict=True):
            await rate_dossier(session, await _delivered(session, code), citizen_id=citizen_id, score=score)
        items = [
            await send_feedback(session, tenant, citizen_id=citizen_id, subject=s, content="…", now=received)
            for s in ("đúng hạn", "trễ hạn", "chưa trả lời")
        ]
        await answer_feedback(
            session,
            items[0].id,
            actor=Actor.officer("1"),
            answer="Đã xử lý",
            now=received + timedelta(days=1),
        )
        await answer_feedback(
            session,
            items[1].id,
            actor=Actor.officer("1"),
            answer="Đã xử lý",
            now=received + timedelta(days=30),
        )
        with pytest.raises(FeedbackError):
            await answer_feedback(session, items[1].id, actor=Actor.officer("1"), answer="Lần hai")
        assert (await list_feedback_for_officers(session))[0].subject == "chưa trả lời"
    async with db.tenant_session(tenant) as session:
        summary = await satisfaction_summary(session)
        assert summary == {
            "rating_count": 3,
            "average_score": 3.67,
            "satisfied_share": 0.6667,
            "feedback_total": 3,
            "feedback_answered": 2,
            "feedback_answered_on_time": 1,
        }
        # By period: nothing was rated or received before 2026.
        before = await satisfaction_summary(session, end=datetime(2026, 1, 1, tzinfo=VIETNAM))
        assert before["rating_count"] == 0 and before["feedback_total"] == 0
