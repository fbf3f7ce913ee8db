"""The deadline scan notices each late or due-soon dossier once, however often it runs and
however many schedulers run it at once."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import Engine, text

from motcua.backoffice.services import scan_deadlines
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.dossiers.deadlines import VIETNAM, WorkCalendar
from tests.backoffice.test_workspace import _submit
from tests.conftest import MakeTenant
from tests.dossiers.conftest import BIRTH, SignIn


async def test_scan_notices_once_across_repeated_and_concurrent_scans(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine, live_settings: Settings
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    codes = [(await _submit(sign_in, tenant))[1] for _ in range(4)]
    # Wednesday 2 Dec 2026, 10:00: a plain working day.
    now = datetime(2026, 12, 2, 10, 0, tzinfo=VIETNAM)
    with engine.begin() as conn:
        s = tenant.schema
        conn.execute(
            text(f"UPDATE {s}.dossiers SET status = 'in_progress', due_at = :d WHERE code = :c"),
            {"d": datetime(2026, 12, 1, 17, 0, tzinfo=VIETNAM), "c": codes[0]},
        )  # late
        conn.execute(
            text(f"UPDATE {s}.dossiers SET status = 'accepted', due_at = :d WHERE code = :c"),
            {"d": datetime(2026, 12, 3, 9, 0, tzinfo=VIETNAM), "c": codes[1]},
        )  # due in 6 working hours
        conn.execute(
            text(f"UPDATE {s}.dossiers SET status = 'in_progress', due_at = :d WHERE code = :c"),
            {"d": datetime(2026, 12, 30, 17, 0, tzinfo=VIETNAM), "c": codes[2]},
        )  # far away
        conn.execute(
            text(f"UPDATE {s}.dossiers SET reception_due_at = :d WHERE code = :c"),
            {"d": datetime(2026, 12, 2, 8, 0, tzinfo=VIETNAM), "c": codes[3]},
        )  # not received in time
        ids: dict[str, int] = dict(conn.execute(text(f"SELECT code, id FROM {s}.dossiers")).all())

    db = Database(live_settings.database_url or "", pool_size=4)
    calendar = WorkCalendar()

    async def scan() -> list[tuple[int, str]]:
        async with db.tenant_session(tenant) as session:
            return await scan_deadlines(session, calendar, now)

    try:
        first, second = await asyncio.gather(scan(), scan())  # two schedulers at once
        third = await scan()
    finally:
        await db.dispose()
    assert sorted(first + second) == sorted(
        [(ids[codes[0]], "overdue"), (ids[codes[1]], "due_soon"), (ids[codes[3]], "reception_overdue")]
    )
    assert third == []
