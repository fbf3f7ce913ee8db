"""Back-office jobs: the periodic deadline scan (one message per tenant, from the scheduler)."""

from __future__ import annotations

import logging
from datetime import datetime

import dramatiq

from motcua.backoffice.risk_notices import scan_risks, tell_leaders_of_risk
from motcua.backoffice.services import scan_deadlines, tell_staff_of_deadline
from motcua.core.jobs import tenant_job_session
from motcua.core.scheduler import PeriodicJob, register
from motcua.dossiers.deadlines import VIETNAM
from motcua.dossiers.services import calendar_for

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name="deadlines", max_retries=3, min_backoff=5000, time_limit=120_000)
async def deadline_scan(tenant: str) -> None:
    async with tenant_job_session(tenant) as (record, session):
        noticed = await scan_deadlines(session, calendar_for(record))
        # In the scan's transaction: a notice is marked and announced together, or neither.
        for dossier_id, kind in noticed:
            await tell_staff_of_deadline(session, record, dossier_id, kind)
        # The leaders hear of the dossiers likely to be late, before they are (once a day).
        now = datetime.now(VIETNAM)
        at_risk = await scan_risks(session, calendar_for(record), now)
        for dossier_id, unit_id in at_risk:
            await tell_leaders_of_risk(session, record, dossier_id, unit_id, day=now.date())
    if noticed or at_risk:
        log.info("deadline scan of %s: %d new notices, %d at risk", tenant, len(noticed), len(at_risk))


# Every 5 minutes, one message per active tenant (core/scheduler.py claims each slot once).
register(PeriodicJob("deadline-scan", 300, "deadline_scan", per_tenant=True))
