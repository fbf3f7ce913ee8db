"""The leaders' notice of dossiers likely to be late (issue 18): the deadline scan tells the
leaders of the unit holding each high-risk dossier (``workflow.risk``, ``HIGH_RISK``) before it
is late, once per dossier per day.

Once a day is a row of ``deadline_notices`` keyed by (dossier, ``high_risk``, the day's start in
Vietnam time): repeated scans, or two schedulers at once, mark it once and only the one that
marked it tells anyone; the next day it may be told again if still at risk. The notice goes out
through the same event and actor as the other deadline notices (``DeadlineEvent``,
notifications.jobs), in each leader's language, with the outbox's delivery guarantees.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.backoffice.services import emit_deadline_notice
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import VIETNAM, WorkCalendar
from motcua.dossiers.models import DeadlineNotice, Dossier, DossierStatus
from motcua.organisation.models import UnitRole, UnitStaff
from motcua.workflow.risk import HIGH_RISK, late_risks

HIGH_RISK_KIND = "high_risk"


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=VIETNAM)


async def scan_risks(
    session: AsyncSession, calendar: WorkCalendar, now: datetime | None = None
) -> list[tuple[int, int]]:
    """Mark today's notice of every dossier at high risk that is not late yet, and return only
    those not marked before today: (dossier id, unit holding its open step)."""
    now = (now or datetime.now(VIETNAM)).astimezone(VIETNAM)
    risky = {
        r.dossier_id: r.unit_id
        for r in await late_risks(session, now=now, calendar=calendar)
        if r.probability >= HIGH_RISK
    }
    if not risky:
        return []
    # A late dossier already has its overdue notice: this one is for before it is late.
    not_late = set(
        (
            await session.execute(
                select(Dossier.id).where(
                    Dossier.id.in_(list(risky)),
                    Dossier.due_at > now,
                    Dossier.status.in_((DossierStatus.ACCEPTED, DossierStatus.IN_PROGRESS)),
                )
            )
        ).scalars()
    )
    if not not_late:
        return []
    day = _day_start(now.date())
    marked = (
        await session.execute(
            insert(DeadlineNotice)
            .values([{"dossier_id": d, "kind": HIGH_RISK_KIND, "due_at": day} for d in sorted(not_late)])
            .on_conflict_do_nothing()
            .returning(DeadlineNotice.dossier_id)
        )
    ).scalars()
    return sorted((int(d), risky[int(d)]) for d in marked)


async def tell_leaders_of_risk(
    session: AsyncSession, tenant: Tenant, dossier_id: int, unit_id: int, *, day: date
) -> None:
    """Emit the ``DeadlineEvent`` of a high-risk notice to the leaders of ``unit_id``, each in
    the UI language they last logged in with."""
    dossier = await session.get(Dossier, dossier_id)
    if dossier is None:
        return
    leaders = select(UnitStaff.personal_id).where(
        UnitStaff.unit_id == unit_id, UnitStaff.role == UnitRole.LEADER.value
    )
    await emit_deadline_notice(
        session,
        tenant,
        dossier,
        kind=HIGH_RISK_KIND,
        key=f"deadline:{dossier.id}:{HIGH_RISK_KIND}:{day.isoformat()}",
        personal_ids=leaders,
    )
