"""Payment jobs: reconciliation of payments and refunds stuck before a final state (every 10
minutes per tenant), so a lost webhook or a crash never leaves a paid dossier looking unpaid;
the daily payments report (stored hourly for the day before, idempotent); and filing each
receipt's PDF once it is issued."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import dramatiq

from motcua.core.events import ReceiptIssued, Subscriber, subscribe
from motcua.core.jobs import job_database, load_tenant, tenant_job_session
from motcua.core.scheduler import PeriodicJob, register
from motcua.core.settings import load_settings
from motcua.dossiers.backends import storage_for_settings
from motcua.dossiers.slip import MissingGlyphError
from motcua.payments.models import Receipt
from motcua.payments.provider import StripeProvider
from motcua.payments.receipts import file_receipt_pdf
from motcua.payments.refunds import retry_pending_refunds
from motcua.payments.reports import store_day, vietnam_today
from motcua.payments.services import reconcile
from motcua.payments.settings import payment_settings_of
from motcua.signing.services import Signing, tenant_origin

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name="payments", max_retries=3, min_backoff=10_000, time_limit=300_000)
async def reconcile_payments(tenant: str) -> None:
    settings = load_settings()
    if not settings.stripe_secret_key:
        return  # this platform takes no online payments
    db = job_database()
    record = await load_tenant(db, tenant)
    # An account, enabled or not: payments and refunds started before a switch-off still finish.
    if payment_settings_of(record).stripe_account is None:
        return
    provider = StripeProvider(
        settings.stripe_secret_key, settings.stripe_webhook_secret, api_base=settings.stripe_api_base
    )
    moved = await reconcile(db, provider, record)
    refunded = await retry_pending_refunds(db, provider, record)
    if moved or refunded:
        log.info("reconciled %d payments and %d refunds of %s", moved, refunded, tenant)


@dramatiq.actor(queue_name="payments", max_retries=3, min_backoff=10_000, time_limit=300_000)
async def report_payments(tenant: str) -> None:
    """Yesterday's report (Vietnam time); repeating it recomputes the same figures."""
    async with tenant_job_session(tenant) as (_, session):
        await store_day(session, vietnam_today() - timedelta(days=1))


FILE_RECEIPT = Subscriber("file_receipt", "payments")


@dramatiq.actor(
    actor_name=FILE_RECEIPT.actor_name,
    queue_name=FILE_RECEIPT.queue_name,
    max_retries=5,
    min_backoff=5_000,
    time_limit=120_000,
)
async def file_receipt(tenant: str, event: dict[str, Any]) -> None:
    """Draw an issued receipt's PDF into the tenant's storage (idempotent)."""
    receipt_id = ReceiptIssued.from_payload(event).receipt_id
    async with tenant_job_session(tenant) as (record, session):
        receipt = await session.get(Receipt, receipt_id)
        if receipt is None:
            return
        try:
            settings = load_settings()
            storage = storage_for_settings(settings)
            await file_receipt_pdf(
                session,
                storage,
                record,
                receipt,
                signing=Signing.for_settings(settings, storage),
                origin=await tenant_origin(session, settings, record),
            )
        except MissingGlyphError:
            # A name the embedded font cannot draw: retrying will not help; the receipt page
            # shows it, and the PDF link says so.
            log.warning("receipt %s of %s has characters the PDF font lacks", receipt_id, tenant)


subscribe(ReceiptIssued, FILE_RECEIPT)
register(PeriodicJob("payment-reconciliation", 600, "reconcile_payments", per_tenant=True))
register(PeriodicJob("payment-daily-report", 3600, "report_payments", per_tenant=True))
