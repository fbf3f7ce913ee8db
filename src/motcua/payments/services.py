"""Payments: start a checkout, apply provider events exactly once, reconcile what is stuck.

A payment row is committed *before* the provider is called and updated in a second
transaction after, so a crash in between leaves a payment that reconciliation can finish (the
provider call is idempotent by payment id): no payment is lost, none is counted twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import anyio.to_thread
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.models import Procedure
from motcua.core.actions import emit
from motcua.core.audit import Actor, platform_entry
from motcua.core.db import Database, locked
from motcua.core.events import ReceiptIssued
from motcua.core.messages import Message, Money
from motcua.core.nested import Nested
from motcua.core.tenant import Tenant
from motcua.dossiers.lifecycle import Action, DossierError, record_event, transition
from motcua.dossiers.models import Dossier, DossierStatus
from motcua.dossiers.services import tell_applicant
from motcua.dossiers.words import PAID
from motcua.payments.models import RANK, Payment, PaymentEvent, PaymentMethod, PaymentStatus, Receipt
from motcua.payments.provider import (
    LineItem,
    PaymentProvider,
    PaymentProviderError,
    ProviderStatus,
    checkout_key,
    status_of_session,
)
from motcua.payments.receipts import issue_receipt, receipts_of_citizen
from motcua.payments.refunds import mirror_provider_refunds
from motcua.payments.settings import PaymentSettings, PaymentSettingsError, payment_settings_of
from motcua.tenancy.events import tenants_changed

log = logging.getLogger(__name__)
REUSE_CHECKOUT_FOR = timedelta(minutes=30)
OVER_LIMIT = "Khoản phí vượt hạn mức thanh toán trực tuyến; vui lòng nộp tại Bộ phận Một cửa."
PAYABLE = frozenset({"submitted", "accepted", "in_progress", "supplement_requested", "payment_requested"})


# How each method reads inside the history's sentence ("16.000 đồng (tiền mặt tại Bộ phận Một
# cửa); biên lai …"): lower case, unlike the labels of lists and forms.
PAID_BY: dict[PaymentMethod, Message] = {
    PaymentMethod.ONLINE: Message("thanh toán trực tuyến qua cổng thanh toán"),
    PaymentMethod.CASH: Message("tiền mặt tại Bộ phận Một cửa"),
    PaymentMethod.POS: Message("thẻ qua máy POS tại Bộ phận Một cửa"),
}


def account_of(tenant: Tenant) -> str | None:
    """The locality's own merchant account (Stripe Connect, direct charges) when it takes
    online payments, else None."""
    settings = payment_settings_of(tenant)
    return settings.stripe_account if settings.online else None


@dataclass(frozen=True)
class Started:
    payment_id: int
    redirect_url: str


async def start_payment(
    db: Database,
    provider: PaymentProvider,
    tenant: Tenant,
    dossier_code: str,
    *,
    citizen_id: int,
    origin: str,
) -> Started:
    account = account_of(tenant)
    if account is None:
        raise DossierError(
            Message("Cổng này chưa nhận thanh toán trực tuyến; vui lòng nộp phí tại Bộ phận Một cửa.")
        )
    async with db.tenant_session(tenant) as session:
        # The dossier row is locked while its payment is chosen: parallel clicks (tabs, a
        # double submit) queue here, and each finds the payment the first one reserved.
        dossier = await session.scalar(
            select(Dossier)
            .where(Dossier.code == dossier_code, Dossier.citizen_id == citizen_id)
            .with_for_update()
        )
        if dossier is None:
            raise DossierError(Message("Không tìm thấy hồ sơ."))
        if dossier.fee_vnd <= 0 or dossier.status not in PAYABLE:
            raise DossierError(Message("Hồ sơ này không có khoản phí cần thanh toán."))
        if dossier.fee_vnd > provider.max_amount_vnd:
            raise DossierError(OVER_LIMIT)
        paid = await session.scalar(
            select(func.count())
            .select_from(Payment)
            .where(Payment.dossier_id == dossier.id, Payment.status == PaymentStatus.SUCCEEDED)
        )
        if paid:
            raise DossierError(Message("Hồ sơ này đã được thanh toán."))
        # A second click, or a second tab, goes back to the checkout already open: one dossier,
        # one payment in flight (a session is reused while well within its 24-hour life). One
        # statement reads both kinds, so a payment moving from reserved to started meanwhile
        # (its provider call is answered without this lock) is seen as one or the other.
        current = (
            await session.execute(
                select(Payment.id, Payment.status, Payment.checkout_url)
                .where(
                    Payment.dossier_id == dossier.id,
                    Payment.status.in_((PaymentStatus.CREATED, PaymentStatus.STARTED)),
                    Payment.amount_vnd == dossier.fee_vnd,
                    Payment.created_at > func.now() - REUSE_CHECKOUT_FOR,
                )
                .order_by(Payment.id.desc())
                .limit(1)
            )
        ).one_or_none()
        if current is not None and current.status == PaymentStatus.STARTED and current.checkout_url:
            return Started(current.id, current.checkout_url)
        # Reserved by a click still waiting for the provider: that same payment, never a second.
        in_flight = current.id if current is not None and current.status == PaymentStatus.CREATED else None
        if in_flight is not None:
            payment_id = in_flight
        else:
            payment = Payment(
                dossier_id=dossier.id,
                provider=provider.name,
                item_name=await _fee_name(session, dossier),
                method=PaymentMethod.ONLINE,
                amount_vnd=dossier.fee_vnd,
                # Kept on the payment: a retried provider call must send the very same parameters.
                platform_fee_vnd=min(payment_settings_of(tenant).platform_fee_vnd, dossier.fee_vnd),
                status=PaymentStatus.CREATED,
                account=account,
                origin=origin,
            )
            session.add(payment)
            await session.flush()
            payment_id = payment.id
    if in_flight is not None:
        # Another click is asking the provider right now: wait for its answer rather than ask
        # again with the same idempotency key (Stripe refuses a key while it is in use).
        url = await _checkout_of(db, tenant, payment_id, wait_seconds=10.0)
        if url is not None:
            return Started(payment_id, url)
    # Committed above; now the provider (idempotent by payment id), then record what it said.
    started = await _call_provider(db, provider, tenant, payment_id)
    # Two clicks may both have asked for the reserved payment: the checkout recorded first is
    # the payment's, and every click goes there.
    async with db.tenant_session(tenant) as session:
        recorded = await session.scalar(select(Payment.checkout_url).where(Payment.id == payment_id))
    return Started(payment_id, recorded or started.redirect_url)


async def _checkout_of(db: Database, tenant: Tenant, payment_id: int, *, wait_seconds: float) -> str | None:
    """The checkout URL a payment gets once its provider call is answered; None if it has not
    come within ``wait_seconds`` (that call died with its process: the caller asks again)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        async with db.tenant_session(tenant) as session:
            row = (
                await session.execute(
                    select(Payment.status, Payment.checkout_url).where(Payment.id == payment_id)
                )
            ).one()
        if row.checkout_url or row.status != PaymentStatus.CREATED or time.monotonic() > deadline:
            return row.checkout_url if row.status == PaymentStatus.STARTED else None
        await asyncio.sleep(0.2)


async def _fee_name(session: AsyncSession, dossier: Dossier) -> str:
    """The line the citizen sees on the checkout: the procedure's fee being paid (its catalogue
    name, e.g. "Lệ phí cấp Giấy xác nhận tình trạng hôn nhân"), else a generic one."""
    fees = await session.scalar(select(Procedure.fees).where(Procedure.id == dossier.procedure_id))
    for fee in fees or []:
        if int(fee.get("amount_vnd") or 0) == dossier.fee_vnd and fee.get("name"):
            return str(fee["name"])[:300]
    return f"Phí, lệ phí: {dossier.procedure_name}"[:300]


async def _call_provider(db: Database, provider: PaymentProvider, tenant: Tenant, payment_id: int) -> Any:
    """Ask the provider for the checkout of a committed payment, then store its reference.
    Safe to repeat: the same payment always sends the same parameters and idempotency key."""
    async with db.tenant_session(tenant) as session:
        row = (
            await session.execute(
                select(
                    Payment.account,
                    Payment.origin,
                    Payment.amount_vnd,
                    Payment.platform_fee_vnd,
                    Payment.item_name,
                    Dossier.procedure_name,
                    Dossier.code,
                )
                .join(Dossier, Dossier.id == Payment.dossier_id)
                .where(Payment.id == payment_id)
            )
        ).one()
    try:
        started = await anyio.to_thread.run_sync(
            lambda: provider.start_checkout(
                payment_id=payment_id,
                account=row.account,
                items=[
                    LineItem(
                        name=row.item_name or f"Phí, lệ phí: {row.procedure_name}", amount_vnd=row.amount_vnd
                    )
                ],
                success_url=f"{row.origin}/payments/{payment_id}/return",
                cancel_url=f"{row.origin}/payments/{payment_id}/cancel",
                reference=row.code,
                idempotency_key=checkout_key(tenant.slug, payment_id),
                application_fee_vnd=row.platform_fee_vnd,
            )
        )
    except PaymentProviderError as exc:
        if not exc.retryable:  # refused for good: nothing to retry, nothing was charged
            async with db.tenant_session(tenant) as session:
                await _move(
                    session,
                    payment_id,
                    PaymentStatus.CREATED,
                    PaymentStatus.FAILED,
                    review_reason=str(exc)[:1000],
                )
        raise
    async with db.tenant_session(tenant) as session:
        await _move(
            session,
            payment_id,
            PaymentStatus.CREATED,
            PaymentStatus.STARTED,
            provider_ref=started.provider_ref,
            checkout_url=started.redirect_url,
        )
    return started


async def _move(
    session: AsyncSession, payment_id: int, source: PaymentStatus, target: PaymentStatus, **values: Any
) -> None:
    """Move a payment from ``source`` to ``target``; if something else moved it meanwhile (a
    webhook, the return page), it is left where that put it."""
    await session.execute(
        update(Payment)
        .where(Payment.id == payment_id, Payment.status == source)
        .values(status=target, updated_at=func.now(), **values)
    )


async def settle_payment(
    session: AsyncSession, tenant: Tenant, payment: Payment, observed: ProviderStatus
) -> None:
    """Move a payment forward to what the provider reports, never backwards; an amount or
    currency that does not match what we asked for goes to review instead of being accepted,
    and so does a second payment of a dossier already paid (two tabs): it is to be refunded."""
    target = PaymentStatus(observed.status)
    values: dict[str, Any] = {}
    if target == PaymentStatus.SUCCEEDED and (
        observed.amount_vnd != payment.amount_vnd or (observed.currency or "").lower() != "vnd"
    ):
        target = PaymentStatus.REVIEW
        values["review_reason"] = (
            f"provider reported {observed.amount_vnd} {observed.currency}, expected {payment.amount_vnd} vnd"
        )
    if RANK[target] <= RANK[PaymentStatus(payment.status)]:
        return
    dossier: Dossier | None = None
    if target == PaymentStatus.SUCCEEDED:
        # The dossier row is the lock every way of paying takes, so "already paid?" is exact;
        # the payment is read again under it (a webhook and the return page may race).
        dossier = await locked(session, Dossier, payment.dossier_id)
        await session.refresh(payment)
        if RANK[target] <= RANK[PaymentStatus(payment.status)]:
            return
        if await _paid_by_another(session, payment.dossier_id, payment.id):
            target = PaymentStatus.REVIEW
            values["review_reason"] = "dossier already paid by another payment: refund this one"
    if observed.provider_payment_ref:
        values["provider_payment_ref"] = observed.provider_payment_ref
    await session.execute(
        update(Payment).where(Payment.id == payment.id).values(status=target, updated_at=func.now(), **values)
    )
    await session.refresh(payment)
    if target == PaymentStatus.SUCCEEDED and dossier is not None:
        await _record_paid(session, tenant, payment, dossier, actor=Actor.system("online-payment"))


async def return_from_checkout(
    db: Database, provider: PaymentProvider, tenant: Tenant, payment_id: int, *, citizen_id: int
) -> bool:
    """The browser is back from checkout: ask the provider what really happened (the URL proves
    nothing) and settle. Read → ask → settle, each database step its own short transaction:
    no transaction stays open while the provider is called. False: not this citizen's payment."""
    async with db.tenant_session(tenant) as session:
        payment = await payment_for(session, payment_id, citizen_id)
    if payment is None:
        return False
    if payment.provider_ref and payment.status in (PaymentStatus.CREATED, PaymentStatus.STARTED):
        account, ref = payment.account, payment.provider_ref
        try:
            observed = await anyio.to_thread.run_sync(
                lambda: provider.fetch(account=account, provider_ref=ref)
            )
        except PaymentProviderError:
            return True  # shown as still waiting; the webhook or reconciliation settles it
        async with db.tenant_session(tenant) as session:
            current = await session.get(Payment, payment_id)
            if current is not None:
                await settle_payment(session, tenant, current, observed)
    return True


async def cancel_checkout(
    db: Database, provider: PaymentProvider, tenant: Tenant, payment_id: int, *, citizen_id: int
) -> bool:
    """The citizen left the checkout page with "cancel": close the session at the provider so
    it cannot be paid later by surprise, and record the payment as cancelled (or as whatever
    the provider says happened first, e.g. paid a moment before). Only the payer's own payment,
    only while it is still waiting; no transaction is open during the provider call. Raises
    ``PaymentProviderError`` on an outage. False: not this citizen's payment."""
    async with db.tenant_session(tenant) as session:
        payment = await payment_for(session, payment_id, citizen_id)
    if payment is None:
        return False
    if payment.status != PaymentStatus.STARTED or not payment.provider_ref:
        return True
    account, ref = payment.account, payment.provider_ref
    observed = await anyio.to_thread.run_sync(lambda: provider.cancel(account=account, provider_ref=ref))
    if observed.status == PaymentStatus.EXPIRED:
        observed = replace(observed, status=PaymentStatus.CANCELLED)
    async with db.tenant_session(tenant) as session:
        current = await session.get(Payment, payment_id)
        if current is not None:
            await settle_payment(session, tenant, current, observed)
    return True


async def _paid_by_another(session: AsyncSession, dossier_id: int, payment_id: int | None) -> bool:
    count = await session.scalar(
        select(func.count())
        .select_from(Payment)
        .where(
            Payment.dossier_id == dossier_id,
            Payment.status == PaymentStatus.SUCCEEDED,
            Payment.id != (payment_id or 0),
        )
    )
    return bool(count)


async def _record_paid(
    session: AsyncSession,
    tenant: Tenant,
    payment: Payment,
    dossier: Dossier,
    *,
    actor: Actor,
    collected_by: str | None = None,
) -> Receipt:
    """What follows a succeeded payment, in its transaction: the numbered receipt, a line in the
    dossier's history, and a dossier waiting for this payment (status 6) going back to work."""
    receipt = await issue_receipt(
        session, payment, tenant, issued_at=datetime.now(UTC), collected_by=collected_by
    )
    # Kept as a message: the history reads in the language of whoever reads it.
    note = Message(
        PAID,
        amount=Money(payment.amount_vnd),
        method=PAID_BY[PaymentMethod(payment.method)],
        series=receipt.series,
        number=receipt.display_number,
    )
    if dossier.status == DossierStatus.PAYMENT_REQUESTED:
        await transition(session, dossier, Action.RECORD_PAYMENT, actor=actor, message=note)
    else:
        await record_event(session, dossier, actor=actor, message=note)
    await tell_applicant(
        session,
        tenant,
        dossier,
        "payment_received",
        f"{dossier.id}:receipt:{receipt.id}",
        fee_vnd=receipt.amount_vnd,
        receipt=f"{receipt.series} số {receipt.display_number}",
        receipt_id=receipt.id,
    )
    await emit(session, ReceiptIssued(tenant=tenant.slug, receipt_id=receipt.id))
    return receipt


# What is kept of a provider event: ids, amounts and states. A charge carries card details
# (brand, last four digits, expiry) and a session the payer's contact details; none of it is
# needed here, so none of it is stored.
_KEPT_EVENT_FIELDS = ("id", "type", "account", "created", "api_version", "livemode")
_KEPT_OBJECT_FIELDS = (
    "id",
    "object",
    "status",
    "payment_status",
    "amount",
    "amount_total",
    "amount_received",
    "amount_refunded",
    "currency",
    "payment_intent",
    "client_reference_id",
    "metadata",
    "refunded",
    "created",
    "expires_at",
)


def stored_payload(event: dict[str, Any]) -> dict[str, Any]:
    obj = (event.get("data") or {}).get("object") or {}
    kept = {k: event[k] for k in _KEPT_EVENT_FIELDS if k in event}
    kept_object = {k: obj[k] for k in _KEPT_OBJECT_FIELDS if k in obj}
    if isinstance(kept_object.get("payment_intent"), dict):  # expanded: its id is enough
        kept_object["payment_intent"] = kept_object["payment_intent"].get("id")
    kept["data"] = {"object": kept_object}
    return kept


async def apply_event(session: AsyncSession, tenant: Tenant, event: dict[str, Any]) -> bool:
    """Apply one verified provider event in the tenant's transaction. False when it was seen
    before (its id is recorded in the same transaction as its effect)."""
    inserted = await session.execute(
        pg_insert(PaymentEvent)
        .values(event_id=str(event["id"]), type=str(event["type"]), payload=stored_payload(event))
        .on_conflict_do_nothing()
        .returning(PaymentEvent.event_id)
    )
    if inserted.scalar_one_or_none() is None:
        return False
    obj = (event.get("data") or {}).get("object") or {}
    if event["type"] == "charge.refunded":
        refunded = await session.scalar(
            select(Payment).where(Payment.provider_payment_ref == obj.get("payment_intent"))
        )
        if refunded is not None and str(obj.get("currency") or "").lower() == "vnd":
            await _link_event(session, event, refunded)
            await mirror_provider_refunds(session, refunded, int(obj.get("amount_refunded") or 0))
        return True
    if not str(event["type"]).startswith("checkout.session."):
        return True
    payment = await session.scalar(select(Payment).where(Payment.provider_ref == obj.get("id")))
    if payment is None:
        log.warning("payment event %s names no known payment", event["id"])
        return True
    await _link_event(session, event, payment)
    observed = status_of_session(obj)
    if event["type"] == "checkout.session.expired":
        observed = replace(observed, status=PaymentStatus.EXPIRED)
    elif event["type"] == "checkout.session.async_payment_failed":
        observed = replace(observed, status=PaymentStatus.FAILED)
    await settle_payment(session, tenant, payment, observed)
    return True


async def _link_event(session: AsyncSession, event: dict[str, Any], payment: Payment) -> None:
    await session.execute(
        update(PaymentEvent).where(PaymentEvent.event_id == str(event["id"])).values(payment_id=payment.id)
    )


async def reconcile(db: Database, provider: PaymentProvider, tenant: Tenant) -> int:
    """Re-fetch payments stuck in created/started and settle them, each in its own transaction
    (one the provider cannot answer for now does not hold up the others); returns how many
    moved."""
    async with db.tenant_session(tenant) as session:
        stuck = (
            await session.execute(
                select(Payment.id, Payment.provider_ref).where(
                    Payment.status.in_((PaymentStatus.CREATED, PaymentStatus.STARTED))
                )
            )
        ).all()
    moved = 0
    for payment_id, provider_ref in stuck:
        try:
            if provider_ref is None:
                # A crash after the provider call but before its answer was stored: ask again
                # (same idempotency key → the same checkout), so it is found, never duplicated.
                await _call_provider(db, provider, tenant, payment_id)
                moved += 1
            async with db.tenant_session(tenant) as session:
                payment = await session.get(Payment, payment_id)
                assert payment is not None and payment.provider_ref is not None
                before, account, ref = payment.status, payment.account, payment.provider_ref
            # Asked between transactions, never inside one (a slow provider holds no lock).
            observed = await anyio.to_thread.run_sync(
                partial(provider.fetch, account=account, provider_ref=ref)
            )
            async with db.tenant_session(tenant) as session:
                payment = await session.get(Payment, payment_id)
                assert payment is not None
                await settle_payment(session, tenant, payment, observed)
                await session.refresh(payment)
                moved += int(payment.status != before and provider_ref is not None)
        except PaymentProviderError as exc:
            log.warning("payment %s of %s not reconciled: %s", payment_id, tenant.slug, exc)
            if exc.missing:  # asking again will not help: a person looks (listed for review)
                async with db.tenant_session(tenant) as session:
                    await _move(
                        session,
                        payment_id,
                        PaymentStatus.STARTED,
                        PaymentStatus.REVIEW,
                        review_reason=f"the provider does not know this checkout: {exc}"[:1000],
                    )
                moved += 1
    return moved


async def payment_for(session: AsyncSession, payment_id: int, citizen_id: int) -> Payment | None:
    return await session.scalar(
        select(Payment)
        .join(Dossier, Dossier.id == Payment.dossier_id)
        .where(Payment.id == payment_id, Dossier.citizen_id == citizen_id)
    )


@dataclass(frozen=True)
class FeeState:
    """What a dossier page shows about its fees."""

    fee_vnd: int
    paid: bool
    payable_online: bool
    last_status: str | None
    over_limit: bool = False  # more than one online payment may be: paid at the desk
    payments: tuple[Payment, ...] = ()
    receipts: tuple[Receipt, ...] = ()


async def fee_state(
    session: AsyncSession, tenant: Tenant, dossier: Dossier, *, provider: PaymentProvider | None
) -> FeeState:
    """``provider``: the platform's payment provider where the page may offer paying online."""
    # Payments with their receipts in one statement (a receipt belongs to exactly one payment).
    rows = (
        await session.execute(
            select(Payment, Receipt)
            .outerjoin(Receipt, Receipt.payment_id == Payment.id)
            .where(Payment.dossier_id == dossier.id)
            .order_by(Payment.id)
        )
    ).all()
    payments = [payment for payment, _ in rows]
    receipts = sorted((receipt for _, receipt in rows if receipt is not None), key=lambda r: r.id)
    return fee_state_of(tenant, dossier, payments, receipts, provider=provider)


def fee_state_of(
    tenant: Tenant,
    dossier: Dossier,
    payments: Sequence[Payment],
    receipts: Sequence[Receipt],
    *,
    provider: PaymentProvider | None,
) -> FeeState:
    """The fee state from the dossier's payments (oldest first) and their receipts."""
    paid = any(p.status == PaymentStatus.SUCCEEDED for p in payments)
    return FeeState(
        fee_vnd=dossier.fee_vnd,
        paid=paid,
        payable_online=(
            provider is not None
            and not paid
            and 0 < dossier.fee_vnd <= provider.max_amount_vnd
            and dossier.status in PAYABLE
            and account_of(tenant) is not None
        ),
        over_limit=provider is not None and dossier.fee_vnd > provider.max_amount_vnd,
        last_status=payments[-1].status if payments else None,
        payments=tuple(payments),
        receipts=tuple(receipts),
    )


# The dossier page's payments and receipts, read inside its own statement (dossiers.page):
# correlated to the page's dossier row, in the order ``fee_state`` reads them.
PAYMENTS_OF_PAGE: Nested[Payment] = Nested(Payment, Payment.dossier_id == Dossier.id, order_by=(Payment.id,))
RECEIPTS_OF_PAGE: Nested[Receipt] = Nested(
    Receipt,
    # Correlated by hand: SQLAlchemy correlates a subquery to its immediate enclosing statement
    # only, and uncorrelated this would read every dossier's receipts.
    Receipt.payment_id.in_(select(Payment.id).where(Payment.dossier_id == Dossier.id).correlate(Dossier)),
    order_by=(Receipt.id,),
)


async def record_counter_payment(
    session: AsyncSession, tenant: Tenant, dossier: Dossier, *, actor: Actor, method: str
) -> Receipt:
    """Fees paid at the one-stop desk (cash or card terminal), recorded by the officer, with
    the receipt handed to the citizen."""
    if method not in (PaymentMethod.CASH, PaymentMethod.POS):
        raise DossierError(Message("Chọn hình thức nộp: tiền mặt hoặc thẻ qua máy POS."))
    current = await locked(session, Dossier, dossier.id)
    assert current is not None
    if current.fee_vnd <= 0:
        raise DossierError(Message("Hồ sơ này không có khoản phí."))
    if await _paid_by_another(session, current.id, None):
        raise DossierError(Message("Hồ sơ này đã được thanh toán."))
    payment = Payment(
        dossier_id=current.id,
        provider="counter",
        method=method,
        amount_vnd=current.fee_vnd,
        status=PaymentStatus.SUCCEEDED,
        account="",
    )
    session.add(payment)
    await session.flush()
    return await _record_paid(session, tenant, payment, current, actor=actor, collected_by=actor.personal_id)


async def payments_of(session: AsyncSession, dossier_id: int) -> list[Payment]:
    return list(
        (
            await session.scalars(
                select(Payment).where(Payment.dossier_id == dossier_id).order_by(Payment.id)
            )
        ).all()
    )


async def update_payment_settings(
    db: Database, tenant: Tenant, wanted: PaymentSettings, *, actor: Actor
) -> None:
    """Store a tenant's payment settings (audited). An account already used by another tenant
    is refused: an event naming it must reach exactly one tenant."""
    try:
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE platform.tenants SET settings = jsonb_set(settings, '{payments}', "
                    "CAST(:value AS jsonb), true), updated_at = now() WHERE id = :id"
                ),
                {"value": json.dumps(wanted.as_json()), "id": tenant.id},
            )
            await conn.execute(
                platform_entry(
                    "payments.configured", actor=actor, tenant=tenant.slug, detail=wanted.as_json()
                )
            )
    except IntegrityError:
        raise PaymentSettingsError(
            Message("Tài khoản thanh toán này đang được một cổng dịch vụ công khác sử dụng.")
        ) from None
    tenants_changed()


@dataclass(frozen=True, slots=True)
class PaymentsPanel:
    """The dossier pages' fees panel (``dossiers.services.FeesPanel``): fees, payments and
    receipts of a dossier, with online payment offered where ``provider`` is set."""

    provider: PaymentProvider | None

    async def fee_state(self, session: AsyncSession, tenant: Tenant, dossier: Dossier) -> FeeState:
        return await fee_state(session, tenant, dossier, provider=self.provider)

    async def receipts_of_citizen(self, session: AsyncSession, citizen_id: int) -> list[Receipt]:
        return await receipts_of_citizen(session, citizen_id)

    @property
    def page_reads(self) -> tuple[Nested[Any], ...]:
        return (PAYMENTS_OF_PAGE, RECEIPTS_OF_PAGE)

    def fee_state_from(
        self, tenant: Tenant, dossier: Dossier, dialect: Dialect, values: Sequence[Any]
    ) -> FeeState:
        payments, receipts = values
        return fee_state_of(
            tenant,
            dossier,
            PAYMENTS_OF_PAGE.unpack(dialect, payments),
            RECEIPTS_OF_PAGE.unpack(dialect, receipts),
            provider=self.provider,
        )
