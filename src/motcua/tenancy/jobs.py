"""Provisioning jobs."""

from __future__ import annotations

from typing import Any

import dramatiq
from sqlalchemy import select

from motcua.core.audit import Actor, TenantAudit, tenant_entry
from motcua.core.events import Subscriber, TenantOnboarded, subscribe
from motcua.core.jobs import tenant_job_session

ANNOUNCE_TENANT_READY = Subscriber("announce_tenant_ready", "provisioning")


@dramatiq.actor(
    actor_name=ANNOUNCE_TENANT_READY.actor_name,
    queue_name=ANNOUNCE_TENANT_READY.queue_name,
    max_retries=5,
    min_backoff=1000,
)
async def announce_tenant_ready(tenant: str, event: dict[str, Any] | None = None) -> None:
    """Post-onboarding step run by the worker: opens the tenant's own audit trail with the
    'portal opened' entry. Idempotent, because delivery is at-least-once."""
    async with tenant_job_session(tenant) as (record, session):
        already = await session.scalar(
            select(TenantAudit.id).where(TenantAudit.action == "portal.opened").limit(1)
        )
        if already is None:
            await session.execute(
                tenant_entry(
                    "portal.opened", actor=Actor.system("onboarding"), name=record.name, kind=record.kind
                )
            )


subscribe(TenantOnboarded, ANNOUNCE_TENANT_READY)
