"""The deadline scan tells the leaders of a unit of its dossiers likely to be late, before they
are late, once per dossier per day (backoffice.risk_notices), through the real worker and a real
SMTP server; nobody else of the unit hears of it."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, select

from motcua.backoffice.risk_notices import scan_risks, tell_leaders_of_risk
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.dossiers.deadlines import VIETNAM, WorkCalendar
from motcua.dossiers.lifecycle import Action, guarded_update, transition
from motcua.dossiers.models import Dossier
from motcua.identity.oidc import VerifiedIdentity
from motcua.identity.services import record_tenant_login
from motcua.organisation.models import Unit
from motcua.organisation.services import add_staff, add_unit
from motcua.workflow.services import advance, start_workflow
from tests.backoffice.test_workspace import _submit
from tests.conftest import MakeTenant
from tests.dossiers.conftest import BIRTH, SignIn
from tests.notifications.test_delivery import Inbox, _mentions, _wait, _worker, inbox
from tests.notifications.test_languages import _subject

__all__ = ["inbox"]

ADMIN = Actor.tenant_admin("001080000009")
LEADER = ("079085000555", "Nguyễn Thị Lãnh Đạo", "lanh.dao@example.vn")
SPECIALIST = ("079085000556", "Trần Văn Chuyên", "chuyen.vien@example.vn")
CALENDAR = WorkCalendar.from_config({})


async def test_the_leaders_hear_of_a_dossier_at_risk_once_a_day_before_it_is_late(
    inbox: tuple[Inbox, int],
    sign_in: SignIn,
    make_tenant: MakeTenant,
    engine: Engine,
    live_settings: Settings,
) -> None:
    handler, port = inbox
    # Ten working days of legal time: the steps after the department's need most of it.
    tenant = make_tenant(procedures=[{**BIRTH, "processing_days": 10}])
    _, code = await _submit(sign_in, tenant)
    _, calm_code = await _submit(sign_in, tenant)
    db = Database(live_settings.database_url or "", pool_size=4)
    now = datetime.now(VIETNAM)
    async with db.tenant_session(tenant) as session:
        root = (await session.execute(select(Unit).where(Unit.parent_id.is_(None)))).scalar_one()
        department = await add_unit(
            session,
            parent_id=root.id,
            kind="department",
            name="Sở Tư pháp nguy cơ",
            agency_code="000.00.61.H96",
            actor=ADMIN,
        )
        for pid, name, role in (
            (LEADER[0], LEADER[1], "leader"),
            (SPECIALIST[0], SPECIALIST[1], "specialist"),
        ):
            await add_staff(session, department, personal_id=pid, full_name=name, role=role, actor=ADMIN)
        for pid, name, email in (LEADER, SPECIALIST):
            await record_tenant_login(
                session,
                VerifiedIdentity(
                    issuer="https://eid.test",
                    subject=f"sub-{pid}",
                    personal_id=pid,
                    claims={"name": name, "email": email},
                    id_token="",
                    end_session_endpoint=None,
                ),
            )
        ids = {}
        for each in (code, calm_code):
            dossier = await session.scalar(select(Dossier).where(Dossier.code == each))
            assert dossier is not None
            await transition(session, dossier, Action.ACCEPT, actor=Actor.officer(LEADER[0]))
            await start_workflow(
                session,
                dossier,
                receiving_unit_id=root.id,
                deciding_unit_id=department.id,
                at=dossier.received_at,
                calendar=CALENDAR,
            )
            await advance(session, dossier, at=now, calendar=CALENDAR, actor=Actor.officer(LEADER[0]))
            ids[each] = dossier.id
        # The legal time nearly spent while most steps are still ahead: very likely to be late,
        # not late yet (two days of clock time, whatever day the test runs); the other one has
        # time to spare.
        for each, left in ((code, timedelta(days=2)), (calm_code, timedelta(days=60))):
            moved = await session.get(Dossier, ids[each])
            assert moved is not None
            await guarded_update(session, moved, moved.version, due_at=now + left)

    async def scan(at: datetime) -> list[tuple[int, int]]:
        async with db.tenant_session(tenant) as session:
            return await scan_risks(session, CALENDAR, at)

    worker = _worker(f"smtp://127.0.0.1:{port}")
    try:
        # Two schedulers at once, then again: one notice, for the dossier at risk only.
        first, second = await asyncio.gather(scan(now), scan(now))
        assert sorted(first + second) == [(ids[code], department.id)]
        # Later the same day: a notice's day is Vietnam's, so a run at 23:58 scans again at 23:59:59.
        later = min(now + timedelta(minutes=5), datetime.combine(now.date(), time.max, tzinfo=VIETNAM))
        assert await scan(later) == []
        # The next day it may be told again (still at risk, still not late); once late, the
        # overdue notice takes over and this one stops.
        assert await scan(now + timedelta(days=1)) == [(ids[code], department.id)]
        assert await scan(now + timedelta(days=3)) == []

        async with db.tenant_session(tenant) as session:
            await tell_leaders_of_risk(session, tenant, ids[code], department.id, day=now.date())

        def mine() -> list[Any]:
            # Other tenants' dossiers may carry the same code: the notice is the one to look for.
            return [m for m in handler.messages if _subject(m).startswith(f"Nguy cơ trễ hạn: hồ sơ {code} ")]

        assert _wait(lambda: len(mine()) == 1), [_subject(m) for m in handler.messages]
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        await db.dispose()
    notice = mine()[0]
    assert str(notice["To"]) == LEADER[2]
    assert _subject(notice).startswith(f"Nguy cơ trễ hạn: hồ sơ {code} (hạn ")
    assert _mentions(notice, "nguy cơ cao") and _mentions(notice, f"/officer/dossiers/{code}")
    assert not [m for m in handler.messages if _subject(m).startswith(f"Nguy cơ trễ hạn: hồ sơ {calm_code} ")]
