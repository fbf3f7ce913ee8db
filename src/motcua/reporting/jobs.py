"""The job that keeps a tenant's rollups up to date, every two minutes per active tenant (the
scheduler). Not also on each ``DossierEvent``: a run per change would multiply the work under
load (each run scans its watermark's indexes), and the figures are not read to the minute."""

from __future__ import annotations

import dramatiq

from motcua.core.db import Database
from motcua.core.events import Subscriber
from motcua.core.jobs import job_database, load_tenant
from motcua.core.scheduler import PeriodicJob, register
from motcua.reporting.ranking import pending_days, record_indicators
from motcua.reporting.rollups import finish_run, mark_changes, recompute_pending

REFRESH_ROLLUPS = Subscriber("refresh_rollups", "reports")


async def refresh(tenant: str, *, db: Database | None = None) -> int:
    """Bring one tenant's rollups up to date; returns how many days were recomputed. Safe to run
    again or at the same time as another run (they share the pending days under a lock)."""
    db = db or job_database()
    record = await load_tenant(db, tenant)
    async with db.tenant_session(record) as session:
        await mark_changes(session)
        touched = await pending_days(session)
    done = 0
    while True:
        async with db.tenant_session(record) as session:
            count = await recompute_pending(session)
        if count == 0:
            break
        done += count
    async with db.tenant_session(record) as session:
        await finish_run(session)
    # The console's ranking reads every tenant's figures from one platform table.
    await record_indicators(db, record, touched=touched)
    return done


@dramatiq.actor(actor_name=REFRESH_ROLLUPS.actor_name, queue_name=REFRESH_ROLLUPS.queue_name, max_retries=3)
async def refresh_rollups(tenant: str) -> None:
    await refresh(tenant)


# A missed slot is no loss: the next run takes every change since the watermark.
register(PeriodicJob("reporting-rollups", 120, REFRESH_ROLLUPS.actor_name, per_tenant=True))
