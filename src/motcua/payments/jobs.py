"""Payment jobs: reconciliation of payments stuck before a final state (every 10 minutes per
tenant), so a lost webhook or a crash never leaves a paid dossier looking unpaid."""

from __future__ import annotations

import logging

import dramatiq

from motcua.core.jobs import job_database, load_tenant
from motcua.core.scheduler import PeriodicJob, register
from motcua.core.settings import load_settings
from motcua.payments.provider import StripeProvider
from motcua.payments.services import account_of, reconcile

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name="payments", max_retries=3, min_backoff=10_000, time_limit=300_000)
async def reconcile_payments(tenant: str) -> None:
    settings = load_settings()
    if not settings.stripe_secret_key:
        return  # this platform takes no online payments
    db = job_database()
    record = await load_tenant(db, tenant)
    if account_of(record) is None:
        return
    provider = StripeProvider(
        settings.stripe_secret_key, settings.stripe_webhook_secret, api_base=settings.stripe_api_base
    )
    moved = await reconcile(db, provider, record)
    if moved:
        log.info("reconciled %d payments of %s", moved, tenant)


register(PeriodicJob("payment-reconciliation", 600, "reconcile_payments", per_tenant=True))
