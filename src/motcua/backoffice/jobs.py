"""Back-office jobs: the periodic deadline scan (one message per tenant, from the scheduler), and
signing an appointment slip the signer could not sign when the dossier was received."""

from __future__ import annotations

import logging
from datetime import datetime

import dramatiq

from motcua.backoffice.risk_notices import scan_risks, tell_leaders_of_risk
from motcua.backoffice.services import scan_deadlines, tell_staff_of_deadline
from motcua.catalog.models import Procedure
from motcua.core.jobs import tenant_job_session
from motcua.core.scheduler import PeriodicJob, register
from motcua.core.settings import load_settings
from motcua.dossiers.backends import storage_for_settings
from motcua.dossiers.deadlines import VIETNAM
from motcua.dossiers.models import Dossier
from motcua.dossiers.services import calendar_for, slip_files
from motcua.dossiers.slip import SIGN_SLIP, file_signed_slip, slip_for
from motcua.signing.services import Signing, tenant_origin

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


@dramatiq.actor(
    actor_name=SIGN_SLIP.actor_name,
    queue_name=SIGN_SLIP.queue_name,
    max_retries=20,
    min_backoff=30_000,
    max_backoff=3_600_000,
    time_limit=120_000,
)
async def sign_slip(tenant: str, dossier_id: int) -> None:
    """Sign and file the slip of a dossier received while the signer was failing (idempotent: a
    slip filed meanwhile is kept). A failure raises, and the job is retried for about a day."""
    async with tenant_job_session(tenant) as (record, session):
        dossier = await session.get(Dossier, dossier_id)
        if dossier is None:
            return
        settings = load_settings()
        storage = storage_for_settings(settings)
        origin = await tenant_origin(session, settings, record)
        slip = slip_for(
            dossier,
            await slip_files(session, dossier.id),
            await session.get(Procedure, dossier.procedure_id),
            tenant_name=record.name,
            tracking_url=f"{origin}/tracking?code={dossier.code}",
        )
        await file_signed_slip(
            session,
            record,
            signing=Signing.for_settings(settings, storage),
            dossier=dossier,
            slip=slip,
            origin=origin,
        )
