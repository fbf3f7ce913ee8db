"""Dossier jobs. Notifications themselves (email, SMS) arrive with the back office; this actor
is the hook the submission enqueues after commit, and records that the citizen is to be told."""

from __future__ import annotations

import dramatiq
from sqlalchemy import insert, select

from motcua.core.jobs import tenant_job_session
from motcua.dossiers.models import Dossier
from motcua.tenancy.models import TenantAudit


@dramatiq.actor(queue_name="notifications", max_retries=10, min_backoff=2000)
async def dossier_submitted(tenant: str, dossier_id: int) -> None:
    async with tenant_job_session(tenant) as (_, session):
        dossier = await session.get(Dossier, dossier_id)
        if dossier is None:
            return
        detail = {"dossier_id": dossier_id, "code": dossier.code}
        # Idempotent: at-least-once delivery must not notify twice.
        done = await session.scalar(
            select(TenantAudit.id).where(
                TenantAudit.action == "notification.submitted",
                TenantAudit.detail["dossier_id"].as_integer() == dossier_id,
            )
        )
        if done is None:
            await session.execute(
                insert(TenantAudit).values(actor="worker", action="notification.submitted", detail=detail)
            )
