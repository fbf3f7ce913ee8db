"""Every step change is in the dossier's history, with who and when (workflow.services writes
it, dossiers.words reads it): the applicant reads where the dossier went, by unit and step and
by people's names; the officer reads the same lines and, beside them, what was typed with them
(the reason of a transfer or of a send-back, an opinion asked and given), which the applicant
never reads."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime

import httpx
import pytest
from sqlalchemy import Engine, select, text

from motcua.admin.services import build_spec, onboard_tenant
from motcua.catalog.services import get_procedure
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import VIETNAM, WorkCalendar
from motcua.dossiers.intake import Applicant, Received, receive_dossier
from motcua.dossiers.models import Channel, Dossier
from motcua.dossiers.words import STEP_APPROVED, STEP_SENT_BACK, STEP_TRANSFERRED
from motcua.organisation.models import Unit
from motcua.organisation.services import add_staff, add_unit
from motcua.workflow.models import Consultation
from motcua.workflow.services import (
    advance,
    answer_opinion,
    ask_opinions,
    send_back,
    start_workflow,
    transfer,
)
from tests.admin.conftest import Browser, new_personal_id
from tests.conftest import procedure, unique_slug

CALENDAR = WorkCalendar.from_config({})
ADMIN = Actor.tenant_admin("001080000009")
MONDAY = datetime(2026, 12, 7, 8, 0, tzinfo=VIETNAM)
NAMES = {
    "desk": "Lê Thị Tiếp Nhận",
    "leader": "Nguyễn Thị Lãnh Đạo",
    "specialist": "Trần Văn Chuyên Viên",
    "other": "Võ Thị Ý Kiến",
}
COMMUNE = "Xã Lịch Sử Thử Nghiệm"
DEPARTMENT = "Sở Tư pháp lịch sử"
OTHER = "Sở Tài chính lịch sử"
# What the officers typed: for staff only.
TRANSFER_REASON = "Thuộc thẩm quyền cấp tỉnh theo Nghị định 120"
SEND_BACK_REASON = "Thiếu căn cứ pháp lý ở mục 3 của dự thảo"
QUESTION = "Đề nghị xác nhận nghĩa vụ tài chính"
ANSWER = "Đã hoàn thành nghĩa vụ tài chính"


@dataclass(frozen=True)
class Story:
    tenant: Tenant
    code: str
    applicant: str  # personal ID
    staff: dict[str, str]  # role in the story → personal ID


@pytest.fixture(scope="module")
async def story(engine: Engine, live_settings: Settings) -> Story:
    """A commune's dossier transferred to a department, prepared, sent back once, approved,
    returned to the commune and delivered; an opinion asked of another department on the way."""
    tenant = onboard_tenant(
        engine,
        live_settings,
        build_spec(
            slug=unique_slug(),
            name="Tỉnh thử nghiệm lịch sử hồ sơ",
            procedures=[procedure("2.000001", "Đăng ký khai sinh", processing_days=10)],
        ),
        actor=Actor.operator("test"),
    )
    staff = {key: new_personal_id() for key in NAMES}
    applicant = "001" + new_personal_id()[3:]
    db = Database(live_settings.database_url or "", pool_size=2)
    async with db.tenant_session(tenant) as session:
        root = (await session.execute(select(Unit).where(Unit.parent_id.is_(None)))).scalar_one()
        commune = await add_unit(
            session, parent_id=root.id, kind="commune", name=COMMUNE, agency_code="000.61.00.H97", actor=ADMIN
        )
        department = await add_unit(
            session,
            parent_id=root.id,
            kind="department",
            name=DEPARTMENT,
            agency_code="000.00.62.H97",
            actor=ADMIN,
        )
        other = await add_unit(
            session,
            parent_id=root.id,
            kind="department",
            name=OTHER,
            agency_code="000.00.63.H97",
            actor=ADMIN,
        )
        for key, unit, role in (
            ("desk", commune, "reception"),
            ("desk", commune, "leader"),
            ("leader", department, "leader"),
            ("specialist", department, "specialist"),
            ("other", other, "leader"),
        ):
            await add_staff(
                session, unit, personal_id=staff[key], full_name=NAMES[key], role=role, actor=ADMIN
            )
        proc = await get_procedure(session, "2.000001")
        assert proc is not None
        outcome = await receive_dossier(
            session,
            tenant,
            procedure=proc,
            applicant=Applicant(personal_id=applicant, full_name="Hoàng Văn Nộp"),
            data={},
            documents=[],
            channel=Channel.IN_PERSON,
            actor=Actor.operator("test"),
            now=MONDAY,
        )
        assert isinstance(outcome, Received), outcome
        code = outcome.dossier.code
        ids = (commune.id, department.id, other.id)

    desk, leader, specialist, answerer = (
        Actor.officer(staff[k]) for k in ("desk", "leader", "specialist", "other")
    )
    commune_id, department_id, other_id = ids
    at = MONDAY
    async with db.tenant_session(tenant) as session:
        found = await session.scalar(select(Dossier).where(Dossier.code == code))
        assert found is not None
        dossier = found
        await start_workflow(
            session,
            dossier,
            receiving_unit_id=commune_id,
            deciding_unit_id=commune_id,
            at=at,
            calendar=CALENDAR,
        )
        await advance(session, dossier, at=at, calendar=CALENDAR, actor=desk)  # reception → the commune
        await transfer(
            session,
            dossier,
            to_unit_id=department_id,
            reason=TRANSFER_REASON,
            at=at,
            calendar=CALENDAR,
            actor=desk,
        )
        await advance(session, dossier, at=at, calendar=CALENDAR, actor=leader, assignee=staff["specialist"])
        asked = await ask_opinions(
            session,
            dossier,
            unit_ids=[other_id],
            question=QUESTION,
            hours=8,
            at=at,
            calendar=CALENDAR,
            actor=specialist,
        )
        consultation_id = asked[0].id
    async with db.tenant_session(tenant) as session:
        consultation = await session.get(Consultation, consultation_id)
        assert consultation is not None
        await answer_opinion(session, consultation, answer=ANSWER, at=at, actor=answerer)
    async with db.tenant_session(tenant) as session:
        found = await session.scalar(select(Dossier).where(Dossier.code == code))
        assert found is not None
        dossier = found
        await advance(session, dossier, at=at, calendar=CALENDAR, actor=specialist)  # → the leader
        await send_back(session, dossier, at=at, calendar=CALENDAR, actor=leader, reason=SEND_BACK_REASON)
        await advance(session, dossier, at=at, calendar=CALENDAR, actor=specialist)
        await advance(session, dossier, at=at, calendar=CALENDAR, actor=leader)  # approved
        await advance(session, dossier, at=at, calendar=CALENDAR, actor=desk)  # the result at the desk
        assert await advance(session, dossier, at=at, calendar=CALENDAR, actor=desk) is None  # delivered
    await db.dispose()
    return Story(tenant, code, applicant, staff)


# Every step change, in order, as both readers read it.
LINES = [
    f"Hồ sơ được chuyển đến {COMMUNE} để giải quyết — Cán bộ {NAMES['desk']}",
    f"Hồ sơ được chuyển từ {COMMUNE} đến {DEPARTMENT} để giải quyết — Cán bộ {NAMES['desk']}",
    f"{DEPARTMENT} đã giao chuyên viên thẩm định hồ sơ — Cán bộ {NAMES['leader']}",
    f"{DEPARTMENT} đã xin ý kiến của {OTHER} — Cán bộ {NAMES['specialist']}",
    f"{OTHER} đã gửi ý kiến về hồ sơ — Cán bộ {NAMES['other']}",
    f"Chuyên viên {DEPARTMENT} đã trình lãnh đạo phê duyệt kết quả — Cán bộ {NAMES['specialist']}",
    f"Lãnh đạo {DEPARTMENT} đã chuyển lại hồ sơ cho chuyên viên để hoàn thiện — Cán bộ {NAMES['leader']}",
    f"Chuyên viên {DEPARTMENT} đã trình lãnh đạo phê duyệt kết quả — Cán bộ {NAMES['specialist']}",
    f"Lãnh đạo {DEPARTMENT} đã phê duyệt kết quả — Cán bộ {NAMES['leader']}",
    f"Kết quả giải quyết đã được chuyển về {COMMUNE} — Cán bộ {NAMES['desk']}",
    f"{COMMUNE} đã hoàn thành bước trả kết quả — Cán bộ {NAMES['desk']}",
]
TYPED = (TRANSFER_REASON, SEND_BACK_REASON, QUESTION, ANSWER)


def _history(page: str) -> list[str]:
    """The lines of the page's history, as text (tags dropped, time left out)."""
    section = page.split('data-testid="history"', 1)[1].split("</ol>", 1)[0]
    items = re.findall(r"<li>(.*?)</li>", section, flags=re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", i)).split()).split(" — ", 1)[1] for i in items]


@pytest.fixture
async def officers(signed_in: Browser, story: Story) -> dict[str, httpx.AsyncClient]:
    # Each officer has logged in once (their name comes from their e-ID).
    return {
        key: await signed_in(story.tenant, role="officer", personal_id=pid, name=NAMES[key])
        for key, pid in story.staff.items()
    }


async def test_the_applicant_reads_each_step_by_unit_and_name_without_internal_reasons(
    signed_in: Browser, story: Story, officers: dict[str, httpx.AsyncClient]
) -> None:
    citizen = await signed_in(story.tenant, role="citizen", personal_id=story.applicant, name="Hoàng Văn Nộp")
    page = await citizen.get(f"/my/dossiers/{story.code}")
    assert page.status_code == 200
    lines = _history(page.text)
    steps = [line for line in lines if not line.startswith("Đã ")]  # the status lines come first
    assert [" ".join(s.split()) for s in steps] == LINES
    history = page.text.split('data-testid="history"', 1)[1].split("</ol>", 1)[0]
    for typed in TYPED:
        assert typed not in history
    assert not re.search(r"\b\d{12}\b", history)  # names, never personal ID numbers


async def test_the_officer_reads_the_same_lines_with_what_was_typed(
    story: Story, officers: dict[str, httpx.AsyncClient]
) -> None:
    page = await officers["leader"].get(f"/officer/dossiers/{story.code}")
    assert page.status_code == 200
    lines = [line for line in _history(page.text) if not line.startswith("Đã ")]
    assert len(lines) == len(LINES)
    for line, expected in zip(lines, LINES, strict=True):
        assert line.startswith(expected), (line, expected)
    said = dict(zip(LINES, lines, strict=True))
    assert said[LINES[1]].endswith(TRANSFER_REASON)
    assert said[LINES[3]].endswith(QUESTION)
    assert said[LINES[4]].endswith(ANSWER)
    assert said[LINES[6]].endswith(SEND_BACK_REASON)
    assert said[LINES[8]] == LINES[8]  # nothing typed with the approval
    assert not re.search(r"\b\d{12}\b", " ".join(lines))


def test_step_changes_are_kept_as_messages_and_the_typed_text_apart(engine: Engine, story: Story) -> None:
    """Each reader reads them in their own language (a msgid and its values, since t0020); the
    reason is not in ``reason``, which every reader of the history reads."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT h.reason, h.message FROM {story.tenant.schema}.dossier_history h"
                f" JOIN {story.tenant.schema}.dossiers d ON d.id = h.dossier_id"
                " WHERE d.code = :c AND h.message IS NOT NULL ORDER BY h.id"
            ),
            {"c": story.code},
        ).all()
    by_msgid = {row.message["msgid"]: row for row in rows}
    transferred = by_msgid[STEP_TRANSFERRED]
    assert transferred.message["params"] == {"from_unit": COMMUNE, "unit": DEPARTMENT}
    assert transferred.message["staff_note"] == TRANSFER_REASON
    assert by_msgid[STEP_SENT_BACK].message["staff_note"] == SEND_BACK_REASON
    assert "staff_note" not in by_msgid[STEP_APPROVED].message
    assert all(row.reason is None for row in rows)
