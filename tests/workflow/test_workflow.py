"""A dossier's way through its procedure's steps (workflow.services) and the late-risk of the
dossiers in progress read from the tenant's own history (workflow.risk), on the real database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError

from motcua.admin.services import build_spec, onboard_tenant
from motcua.catalog.services import get_procedure
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import VIETNAM, WorkCalendar
from motcua.dossiers.intake import Applicant, Received, receive_dossier
from motcua.dossiers.models import Channel, Dossier
from motcua.organisation.models import Unit, UnitRole, UnitStaff
from motcua.workflow.models import Consultation, DossierStep, StepKind
from motcua.workflow.queues import unit_queue, workload
from motcua.workflow.risk import late_risks
from motcua.workflow.services import (
    WorkflowError,
    advance,
    answer_opinion,
    ask_opinions,
    check_steps,
    journey,
    open_step,
    save_steps,
    send_back,
    start_workflow,
    steps_of,
    transfer,
)
from tests.admin.conftest import Browser, csrf_of
from tests.conftest import procedure, unique_slug

CALENDAR = WorkCalendar.from_config({})
LEADER = Actor.officer("001080000001")
SPECIALIST = Actor.officer("001080000002")
MONDAY = datetime(2026, 12, 7, 8, 0, tzinfo=VIETNAM)


@pytest.fixture(scope="module")
def tenant(engine: Engine, live_settings: Settings) -> Tenant:
    spec = build_spec(
        slug=unique_slug(),
        name="Cổng thử nghiệm quy trình",
        procedures=[
            procedure("2.000001", "Cấp giấy phép xây dựng", processing_days=10),
            # Its workflow is the one the browser test edits.
            procedure("2.000002", "Cấp giấy phép sửa chữa nhà", processing_days=10),
        ],
    )
    return onboard_tenant(engine, live_settings, spec, actor=Actor.operator("test"))


@pytest.fixture
async def db(live_settings: Settings) -> AsyncIterator[Database]:
    database = Database(live_settings.database_url or "", pool_size=2)
    yield database
    await database.dispose()


async def _units(db: Database, tenant: Tenant) -> tuple[int, int]:
    """The desk (the tenant's root unit) and a department under it."""
    async with db.tenant_session(tenant) as session:
        desk = (await session.execute(select(Unit).where(Unit.parent_id.is_(None)))).scalar_one()
        department = (
            await session.execute(select(Unit).where(Unit.name == "Sở Xây dựng thử nghiệm"))
        ).scalar_one_or_none()
        if department is None:
            department = Unit(
                parent_id=desk.id,
                kind="department",
                tier="province",
                name="Sở Xây dựng thử nghiệm",
                agency_code="000.00.40.H99",
            )
            session.add(department)
            await session.flush()
        return desk.id, department.id


async def _received(db: Database, tenant: Tenant, n: int, at: datetime) -> int:
    async with db.tenant_session(tenant) as session:
        proc = await get_procedure(session, "2.000001")
        assert proc is not None
        outcome = await receive_dossier(
            session,
            tenant,
            procedure=proc,
            applicant=Applicant(personal_id=f"0011910{n:05d}", full_name="Lê Văn Xây"),
            data={},
            documents=[],
            channel=Channel.IN_PERSON,
            actor=Actor.operator("test"),
            now=at,
        )
        assert isinstance(outcome, Received), outcome
        return outcome.dossier.id


async def test_a_dossier_goes_through_each_step_is_sent_back_once_and_finishes(
    db: Database, tenant: Tenant, engine: Engine
) -> None:
    desk, department = await _units(db, tenant)
    dossier_id = await _received(db, tenant, 1, MONDAY)
    at = MONDAY
    async with db.tenant_session(tenant) as session:
        dossier = await session.get(Dossier, dossier_id)
        assert dossier is not None
        first = await start_workflow(
            session, dossier, receiving_unit_id=desk, deciding_unit_id=department, at=at, calendar=CALENDAR
        )
        # Ten working days = 80 working hours; reception's share is 10 %: 8 hours, due Tuesday 08:00.
        assert (first.kind, first.unit_id, first.budget_hours) == ("reception", desk, 80 * 0.10)
        assert first.due_at == datetime(2026, 12, 8, 8, 0, tzinfo=VIETNAM)

    kinds: list[str] = []
    for hours, assignee in ((4, None), (2, "001080000002"), (30, None)):
        at += timedelta(hours=hours)
        async with db.tenant_session(tenant) as session:
            dossier = await session.get(Dossier, dossier_id)
            assert dossier is not None
            opened = await advance(
                session, dossier, at=at, calendar=CALENDAR, actor=LEADER, assignee=assignee
            )
            assert opened is not None
            kinds.append(opened.kind)
    assert kinds == ["department", "specialist", "leader"]

    async with db.tenant_session(tenant) as session:
        dossier = await session.get(Dossier, dossier_id)
        assert dossier is not None
        with pytest.raises(WorkflowError, match="lý do"):
            await send_back(session, dossier, at=at, calendar=CALENDAR, actor=LEADER, reason="  ")
    async with db.tenant_session(tenant) as session:
        dossier = await session.get(Dossier, dossier_id)
        assert dossier is not None
        back = await send_back(
            session, dossier, at=at, calendar=CALENDAR, actor=LEADER, reason="Thiếu bản vẽ mặt bằng"
        )
        # Back to the specialist who had it, at the deciding unit.
        assert (back.kind, back.assignee, back.unit_id) == ("specialist", "001080000002", department)
    for step in ("leader", "return", "delivery", None):
        async with db.tenant_session(tenant) as session:
            dossier = await session.get(Dossier, dossier_id)
            assert dossier is not None
            opened = await advance(session, dossier, at=at, calendar=CALENDAR, actor=SPECIALIST)
            assert (opened.kind if opened else None) == step
            if opened is not None and opened.kind in ("return", "delivery"):
                assert opened.unit_id == desk  # back at the desk that received it

    async with db.tenant_session(tenant) as session:
        steps = await journey(session, dossier_id)
        assert [(s.kind, s.outcome) for s in steps] == [
            ("reception", "done"),
            ("department", "done"),
            ("specialist", "done"),
            ("leader", "sent_back"),
            ("specialist", "done"),
            ("leader", "done"),
            ("return", "done"),
            ("delivery", "done"),
        ]
        # 08:00 to 12:00 on a Monday: the lunch break (11:30–13:30) is not working time.
        assert steps[0].worked_hours == 3.5 and steps[3].note == "Thiếu bản vẽ mặt bằng"
        assert steps[3].actor == str(LEADER)
        assert await open_step(session, dossier_id) is None
        dossier = await session.get(Dossier, dossier_id)
        assert dossier is not None
        with pytest.raises(WorkflowError):
            await advance(session, dossier, at=at, calendar=CALENDAR, actor=LEADER)
    # Only a leader's step can be sent back.
    other = await _received(db, tenant, 2, MONDAY)
    async with db.tenant_session(tenant) as session:
        dossier = await session.get(Dossier, other)
        assert dossier is not None
        await start_workflow(
            session,
            dossier,
            receiving_unit_id=desk,
            deciding_unit_id=department,
            at=MONDAY,
            calendar=CALENDAR,
        )
    async with db.tenant_session(tenant) as session:
        dossier = await session.get(Dossier, other)
        assert dossier is not None
        with pytest.raises(WorkflowError, match="lãnh đạo"):
            await send_back(session, dossier, at=MONDAY, calendar=CALENDAR, actor=LEADER, reason="x")


async def test_two_officers_advancing_at_once_leave_one_open_step(
    db: Database, tenant: Tenant, engine: Engine
) -> None:
    desk, department = await _units(db, tenant)
    dossier_id = await _received(db, tenant, 3, MONDAY)
    async with db.tenant_session(tenant) as session:
        dossier = await session.get(Dossier, dossier_id)
        assert dossier is not None
        await start_workflow(
            session,
            dossier,
            receiving_unit_id=desk,
            deciding_unit_id=department,
            at=MONDAY,
            calendar=CALENDAR,
        )

    async with db.tenant_session(tenant) as session:
        seen = await open_step(session, dossier_id)
        assert seen is not None
    seen_id = seen.id

    async def push(actor: Actor, after: asyncio.Event | None = None) -> str:
        """An officer acting on the page that showed step ``seen_id``; the first holds its
        transaction open until the other is waiting for the lock."""
        async with db.tenant_session(tenant) as session:
            dossier = await session.get(Dossier, dossier_id)
            assert dossier is not None
            opened = await advance(
                session,
                dossier,
                at=MONDAY + timedelta(hours=1),
                calendar=CALENDAR,
                actor=actor,
                expected=seen_id,
            )
            if after is not None:
                await after.wait()
            return opened.kind if opened else ""

    waiting = asyncio.Event()

    async def when_blocked() -> None:
        with engine.connect() as conn:
            for _ in range(500):
                blocked = conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                ).scalar_one()
                if blocked:
                    break
                await asyncio.sleep(0.01)
        waiting.set()

    first = asyncio.create_task(push(LEADER, waiting))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(push(SPECIALIST))
    await when_blocked()
    results = await asyncio.gather(first, second, return_exceptions=True)
    # The second waited for the first's lock, then found the step it meant to close closed.
    assert results[0] == "department"
    assert isinstance(results[1], WorkflowError) and "bước khác" in results[1].errors["step"]
    # Later, on the same stale page: refused too, not moved a second step.
    with pytest.raises(WorkflowError):
        await push(SPECIALIST)
    async with db.tenant_session(tenant) as session:
        opened = (
            (
                await session.execute(
                    select(DossierStep.kind).where(
                        DossierStep.dossier_id == dossier_id, DossierStep.finished_at.is_(None)
                    )
                )
            )
            .scalars()
            .all()
        )
        assert opened == ["department"]
        # And the database itself refuses a second open step.
        session.add(
            DossierStep(
                dossier_id=dossier_id,
                position=0,
                kind="reception",
                unit_id=desk,
                budget_hours=1,
                started_at=MONDAY,
                due_at=MONDAY,
            )
        )
        with pytest.raises(IntegrityError):
            await session.flush()
        await session.rollback()


async def test_a_procedure_has_its_own_steps_checked_and_audited(
    db: Database, tenant: Tenant, engine: Engine
) -> None:
    for bad, field in (
        ([], "steps"),
        ([("reception", "50"), ("delivery", "40")], "steps"),
        ([("castle", "50"), ("delivery", "50")], "steps-0-kind"),
        ([("reception", "-5"), ("delivery", "105")], "steps-0-share"),
        ([("leader", "50"), ("delivery", "50")], "steps-0-kind"),
        ([("reception", "50"), ("leader", "50")], "steps-1-kind"),
    ):
        with pytest.raises(WorkflowError) as refused:
            check_steps(bad)
        assert field in refused.value.errors
    async with db.tenant_session(tenant) as session:
        proc = await get_procedure(session, "2.000001")
        assert proc is not None
        assert [s.kind for s in await steps_of(session, proc.id)] == list(StepKind)
        await save_steps(
            session, proc, [("reception", "20%"), ("specialist", 60), ("delivery", "20")], actor=LEADER
        )
    async with db.tenant_session(tenant) as session:
        shares = [(s.kind, s.share_percent) for s in await steps_of(session, proc.id)]
        assert shares == [(StepKind.RECEPTION, 20), (StepKind.SPECIALIST, 60), (StepKind.DELIVERY, 20)]
        await save_steps(
            session,
            proc,
            [
                (k.value, v)
                for k, v in (
                    (StepKind.RECEPTION, 10),
                    (StepKind.DEPARTMENT, 10),
                    (StepKind.SPECIALIST, 50),
                    (StepKind.LEADER, 20),
                    (StepKind.RETURN, 5),
                    (StepKind.DELIVERY, 5),
                )
            ],
            actor=LEADER,
        )
    with engine.connect() as conn:
        actions = (
            conn.execute(
                text(f"SELECT action FROM {tenant.schema}.audit_log WHERE action = 'workflow.changed'")
            )
            .scalars()
            .all()
        )
    assert len(actions) == 2


async def test_risks_come_from_the_tenants_own_history(db: Database, tenant: Tenant) -> None:
    """Thirty finished dossiers whose specialist took 60 working hours: a new dossier at the
    specialist step with 30 hours left is almost surely late, one with 200 hours left is not."""
    desk, department = await _units(db, tenant)
    base = MONDAY + timedelta(days=60)
    for n in range(30):
        dossier_id = await _received(db, tenant, 100 + n, base)
        async with db.tenant_session(tenant) as session:
            dossier = await session.get(Dossier, dossier_id)
            assert dossier is not None
            step = await start_workflow(
                session,
                dossier,
                receiving_unit_id=desk,
                deciding_unit_id=department,
                at=base,
                calendar=CALENDAR,
            )
            at = base
            for hours in (2, 2, 60, 4, 1, 1):
                at = CALENDAR.add_working_hours(at, hours)
                await advance(session, dossier, at=at, calendar=CALENDAR, actor=SPECIALIST)
            del step
    # Two in progress, both now at the specialist step since 4 working hours.
    now = CALENDAR.add_working_hours(base, 8)
    watched = {}
    for n, due_in in ((200, 30.0), (201, 200.0)):
        dossier_id = await _received(db, tenant, n, base)
        async with db.tenant_session(tenant) as session:
            dossier = await session.get(Dossier, dossier_id)
            assert dossier is not None
            await start_workflow(
                session,
                dossier,
                receiving_unit_id=desk,
                deciding_unit_id=department,
                at=base,
                calendar=CALENDAR,
            )
            at = base
            for _ in range(2):
                at = CALENDAR.add_working_hours(at, 2)
                await advance(session, dossier, at=at, calendar=CALENDAR, actor=SPECIALIST)
            dossier.due_at = CALENDAR.add_working_hours(now, due_in)
        watched[dossier_id] = due_in
    async with db.tenant_session(tenant) as session:
        risks = {r.dossier_id: r for r in await late_risks(session, now=now, calendar=CALENDAR)}
    tight, loose = (risks[d] for d in watched)
    async with db.tenant_session(tenant) as session:
        # A leader's page reads only its unit's open steps; the desk has none of these two.
        at_desk = {r.dossier_id for r in await late_risks(session, now=now, calendar=CALENDAR, unit_id=desk)}
        assert at_desk.isdisjoint(watched)
    assert tight.probability > 0.95 and loose.probability < 0.05
    assert tight.position == 2 and tight.unit_id == department


async def test_the_administrator_sets_a_procedures_steps_from_the_browser(
    signed_in: Browser, tenant: Tenant, engine: Engine
) -> None:
    admin = await signed_in(tenant, role="tenant_admin")
    page = await admin.get("/manage/catalog/2.000002/workflow")
    assert page.status_code == 200
    assert "Lãnh đạo phê duyệt" in page.text and 'value="50"' in page.text
    token = await csrf_of(admin, "/manage/catalog/2.000002/workflow")
    wrong = await admin.post(
        "/manage/catalog/2.000002/workflow",
        data={
            "_csrf_token": token,
            "steps-0-kind": "reception",
            "steps-0-share": "30",
            "steps-1-kind": "specialist",
            "steps-1-share": "ba mươi",
            "steps-2-kind": "delivery",
            "steps-2-share": "20",
        },
    )
    assert wrong.status_code == 400
    assert "Tỷ lệ thời gian của mỗi bước là số nguyên từ 0 đến 100." in wrong.text
    assert 'href="#steps-1-share"' in wrong.text and 'value="ba mươi"' in wrong.text
    saved = await admin.post(
        "/manage/catalog/2.000002/workflow",
        data={
            "_csrf_token": token,
            "steps-0-kind": "reception",
            "steps-0-share": "30",
            "steps-1-kind": "specialist",
            "steps-1-share": "50",
            "steps-2-kind": "",
            "steps-2-share": "",
            "steps-3-kind": "delivery",
            "steps-3-share": "20",
        },
    )
    assert saved.status_code == 303
    shown = await admin.get(saved.headers["location"])
    assert "Đã lưu quy trình xử lý." in shown.text
    with engine.connect() as conn:
        kinds = conn.execute(
            text(
                f"SELECT s.kind, s.share_percent FROM {tenant.schema}.workflow_steps s"
                f" JOIN {tenant.schema}.procedures p ON p.id = s.procedure_id"
                " WHERE p.code = '2.000002' ORDER BY s.position"
            )
        ).all()
    assert [tuple(k) for k in kinds] == [("reception", 30), ("specialist", 50), ("delivery", 20)]
    # Nobody else: an officer, a citizen, and an unknown procedure.
    for role in ("officer", "citizen"):
        other = await signed_in(tenant, role=role)
        for response in (
            await other.get("/manage/catalog/2.000002/workflow"),
            await other.post(
                "/manage/catalog/2.000002/workflow",
                data={"_csrf_token": token, "steps-0-kind": "delivery", "steps-0-share": "100"},
            ),
        ):
            assert response.status_code in (303, 401, 403)
    assert (await admin.get("/manage/catalog/9.999999/workflow")).status_code == 404
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {tenant.schema}.workflow_steps")).scalar_one() == 9


async def test_a_commune_transfers_a_dossier_and_asks_two_units_for_their_opinion(
    db: Database, tenant: Tenant, engine: Engine
) -> None:
    desk, department = await _units(db, tenant)
    async with db.tenant_session(tenant) as session:
        other = Unit(
            parent_id=desk,
            kind="department",
            tier="province",
            name="Sở Tài chính thử nghiệm",
            agency_code="000.00.41.H99",
        )
        closed = Unit(
            parent_id=desk,
            kind="department",
            tier="province",
            name="Sở đã đóng",
            agency_code="000.00.42.H99",
            active=False,
        )
        session.add_all([other, closed])
        await session.flush()
        other_id, closed_id = other.id, closed.id
    dossier_id = await _received(db, tenant, 300, MONDAY)
    at = MONDAY
    async with db.tenant_session(tenant) as session:
        dossier = await session.get(Dossier, dossier_id)
        assert dossier is not None
        await start_workflow(
            session, dossier, receiving_unit_id=desk, deciding_unit_id=department, at=at, calendar=CALENDAR
        )
        await advance(session, dossier, at=at, calendar=CALENDAR, actor=LEADER)  # now at the department
    async with db.tenant_session(tenant) as session:
        dossier = await session.get(Dossier, dossier_id)
        assert dossier is not None
        for to_unit, reason, field in (
            (closed_id, "x", "to_unit_id"),
            (department, "x", "to_unit_id"),
            (other_id, " ", "reason"),
        ):
            with pytest.raises(WorkflowError) as refused:
                await transfer(
                    session,
                    dossier,
                    to_unit_id=to_unit,
                    reason=reason,
                    at=at,
                    calendar=CALENDAR,
                    actor=LEADER,
                )
            assert field in refused.value.errors
        moved = await transfer(
            session,
            dossier,
            to_unit_id=other_id,
            reason="Thuộc thẩm quyền Sở Tài chính",
            at=at,
            calendar=CALENDAR,
            actor=LEADER,
        )
        assert (moved.kind, moved.unit_id) == ("department", other_id)
        assert dossier.deciding_unit_id == other_id

    async with db.tenant_session(tenant) as session:
        dossier = await session.get(Dossier, dossier_id)
        assert dossier is not None
        with pytest.raises(WorkflowError) as refused:
            await ask_opinions(
                session, dossier, unit_ids=[], question="", hours="0", at=at, calendar=CALENDAR, actor=LEADER
            )
        assert set(refused.value.errors) == {"unit_ids", "question", "hours"}
        asked = await ask_opinions(
            session,
            dossier,
            unit_ids=[department, desk, other_id],
            question="Có vướng quy hoạch không?",
            hours="16",
            at=at,
            calendar=CALENDAR,
            actor=LEADER,
        )
        # Its own unit is not asked; the others get the same deadline, two working days later.
        assert sorted(c.unit_id for c in asked) == sorted([department, desk])
        assert {c.due_at for c in asked} == {datetime(2026, 12, 9, 8, 0, tzinfo=VIETNAM)}
        ids = [c.id for c in asked]
    # The step waits for both answers.
    for consultation_id in ids:
        async with db.tenant_session(tenant) as session:
            dossier = await session.get(Dossier, dossier_id)
            assert dossier is not None
            with pytest.raises(WorkflowError, match="chờ ý kiến"):
                await advance(session, dossier, at=at, calendar=CALENDAR, actor=LEADER)
        async with db.tenant_session(tenant) as session:
            consultation = await session.get(Consultation, consultation_id)
            assert consultation is not None
            with pytest.raises(WorkflowError):
                await answer_opinion(session, consultation, answer="  ", at=at, actor=SPECIALIST)
            await answer_opinion(
                session, consultation, answer="Không vướng quy hoạch.", at=at, actor=SPECIALIST
            )
            with pytest.raises(WorkflowError):
                await answer_opinion(session, consultation, answer="Lần hai", at=at, actor=SPECIALIST)
    async with db.tenant_session(tenant) as session:
        dossier = await session.get(Dossier, dossier_id)
        assert dossier is not None
        opened = await advance(session, dossier, at=at, calendar=CALENDAR, actor=LEADER)
        assert opened is not None and (opened.kind, opened.unit_id) == ("specialist", other_id)
    with engine.connect() as conn:
        transfers = conn.execute(
            text(
                "SELECT from_unit_id, to_unit_id, reason"
                f" FROM {tenant.schema}.dossier_transfers WHERE dossier_id = :d"
            ),
            {"d": dossier_id},
        ).all()
    assert [tuple(t) for t in transfers] == [(department, other_id, "Thuộc thẩm quyền Sở Tài chính")]


async def test_a_units_queue_pages_by_keyset_and_the_leader_sees_its_workload(
    db: Database, tenant: Tenant
) -> None:
    desk, department = await _units(db, tenant)
    async with db.tenant_session(tenant) as session:
        quiet = Unit(
            parent_id=desk,
            kind="department",
            tier="province",
            name="Sở hàng đợi",
            agency_code="000.00.43.H99",
        )
        session.add(quiet)
        await session.flush()
        unit_id = quiet.id
        session.add(
            UnitStaff(
                unit_id=unit_id,
                personal_id="001080000002",
                full_name="Phạm Chuyên",
                role="specialist",
                granted_by="test",
            )
        )
    codes = []
    for n in range(7):
        dossier_id = await _received(db, tenant, 400 + n, MONDAY)
        async with db.tenant_session(tenant) as session:
            dossier = await session.get(Dossier, dossier_id)
            assert dossier is not None
            codes.append(dossier.code)
            await start_workflow(
                session,
                dossier,
                receiving_unit_id=desk,
                deciding_unit_id=unit_id,
                at=MONDAY + timedelta(minutes=n),
                calendar=CALENDAR,
            )
            await advance(
                session,
                dossier,
                at=MONDAY + timedelta(hours=1, minutes=n),
                calendar=CALENDAR,
                actor=LEADER,
                assignee="001080000002" if n % 2 else None,
            )
    async with db.tenant_session(tenant) as session:
        seen: list[str] = []
        after = None
        while True:
            queue = await unit_queue(session, unit_id, personal_id="001080000002", after=after, limit=3)
            assert queue is not None and queue.unit.id == unit_id
            assert queue.roles == {UnitRole.SPECIALIST}
            page = queue.page
            seen += [row.code for row in page.rows]
            if page.after is None:
                break
            after = page.after
        assert seen == codes  # soonest step deadline first, each once, across three pages
        mine = await unit_queue(session, unit_id, personal_id="001080000002", assignee="001080000002")
        assert mine is not None
        assert [r.code for r in mine.page.rows] == codes[1::2]
        assert all(r.step is StepKind.DEPARTMENT for r in mine.page.rows)
        # Someone without a role in the unit gets nothing, nor does this unit's specialist ask
        # for another unit (the desk, which received these dossiers, or a department).
        assert await unit_queue(session, unit_id, personal_id="001080000099") is None
        assert await unit_queue(session, desk, personal_id="001080000002") is None
        assert await unit_queue(session, department, personal_id="001080000002") is None
        assert await unit_queue(session, 10**12, personal_id="001080000002") is None

        # Ten working days from Monday 7 December: legally due Monday 21st; the department's
        # share (10 %, one working day) ran out long before Wednesday 16th.
        later = MONDAY + timedelta(days=9)
        load = await workload(session, unit_id, now=later)
        assert load.by_step == {StepKind.DEPARTMENT: 7}
        assert load.step_overdue == 7 and load.overdue == 0 and load.due_this_week == 7
        assert load.by_person == [("001080000002", "Phạm Chuyên", 3)] and load.unassigned == 4
