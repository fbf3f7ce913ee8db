"""Refunds, full or partial, with a reason, by an officer.

Like payments, a refund is committed as ``pending`` before the provider is asked, with an
idempotency key derived from its id; the answer is recorded in a second transaction. A crash or
a network failure in between leaves a pending refund that reconciliation asks about again with
the same key, so money goes back once. Fees paid at the desk are refunded at the desk: recorded
at once, no provider involved.

Refunds made outside the portal (the provider's dashboard) arrive as ``charge.refunded`` events
carrying the provider's running total. A payment shows the larger of that total and the sum of
the portal's own refunds: both only grow, so the order they arrive in does not matter and
nothing counts twice (until the provider's event for a portal refund arrives, a dashboard refund
made before it is not added on top).
"""

from __future__ import annotations

import anyio.to_thread
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.audit import Actor
from motcua.core.db import Database, locked
from motcua.core.digits import only_digits
from motcua.core.messages import Message, Money
from motcua.core.tenant import Tenant
from motcua.dossiers.lifecycle import STALE, DossierError, record_event
from motcua.dossiers.models import Dossier
from motcua.dossiers.services import tell_applicant
from motcua.dossiers.words import PROVIDER_REFUNDED, REFUNDED
from motcua.payments.models import Payment, PaymentMethod, PaymentStatus, Refund, RefundStatus
from motcua.payments.provider import PaymentProvider, PaymentProviderError, refund_key
from motcua.payments.settings import parse_amount_vnd

REFUNDABLE = frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.REVIEW})
MIN_REASON = 5


def parse_refund_amount(raw: str | None) -> int | None:
    """Blank means the whole remaining amount; otherwise whole đồng ("20.000" and "20000" alike)."""
    return parse_amount_vnd(raw, what=Message("Số tiền hoàn"))


def parse_expected_remaining(raw: str | None) -> int | None:
    text = (raw or "").strip()
    return int(text) if only_digits(text) else None


async def _open_refunds_vnd(session: AsyncSession, payment_id: int) -> int:
    pending = await session.scalar(
        select(func.coalesce(func.sum(Refund.amount_vnd), 0)).where(
            Refund.payment_id == payment_id, Refund.status == RefundStatus.PENDING
        )
    )
    return int(pending or 0)


async def request_refund(
    db: Database,
    provider: PaymentProvider | None,
    tenant: Tenant,
    payment_id: int,
    *,
    amount_vnd: int | None,
    reason: str,
    actor: Actor,
    expected_remaining: int | None = None,
) -> Refund:
    """Refund ``amount_vnd`` (None: all that is left) of a payment. Raises DossierError with
    what to fix; a provider refusal marks the refund failed and says why.

    ``expected_remaining`` is what was left to refund on the page the officer saw: a form sent
    twice (a double click, a second tab) finds it changed and refunds nothing more."""
    reason = reason.strip()[:2000]
    if len(reason) < MIN_REASON:
        raise DossierError(Message("Ghi rõ lý do hoàn tiền (ít nhất 5 ký tự)."))
    async with db.tenant_session(tenant) as session:
        payment = await locked(session, Payment, payment_id)
        if payment is None:
            raise DossierError(Message("Không tìm thấy khoản thanh toán."))
        remaining = await refundable(session, payment)
        if expected_remaining is not None and expected_remaining != remaining:
            raise DossierError(STALE)
        if payment.status not in REFUNDABLE:
            raise DossierError(Message("Chỉ hoàn được khoản đã thanh toán thành công."))
        if remaining <= 0:
            raise DossierError(Message("Khoản thanh toán này đã được hoàn hết (hoặc đang chờ hoàn)."))
        amount = remaining if amount_vnd is None else amount_vnd
        if amount > remaining:
            raise DossierError(
                Message(
                    "Số tiền hoàn (%(amount)s) lớn hơn số còn có thể hoàn (%(remaining)s).",
                    amount=Money(amount),
                    remaining=Money(remaining),
                )
            )
        online = payment.method == PaymentMethod.ONLINE
        if online and (provider is None or not payment.provider_payment_ref):
            raise DossierError(Message("Cổng thanh toán chưa sẵn sàng; chưa thể hoàn tiền trực tuyến."))
        refund = Refund(
            payment_id=payment.id,
            amount_vnd=amount,
            reason=reason,
            officer=actor.personal_id,
            status=RefundStatus.PENDING,
        )
        session.add(refund)
        await session.flush()
        if not online:  # cash handed back at the desk: nothing to ask anyone
            await _settle_refund(session, tenant, refund, provider_ref=None, actor=actor)
            return refund
        refund_id = refund.id
    assert provider is not None
    return await _ask_provider(db, provider, tenant, refund_id, actor=actor)


async def _ask_provider(
    db: Database, provider: PaymentProvider, tenant: Tenant, refund_id: int, *, actor: Actor | None = None
) -> Refund:
    """``actor``: the officer asking now; None when reconciliation asks again (the history then
    names the officer who asked first)."""
    async with db.tenant_session(tenant) as session:
        refund = await session.get(Refund, refund_id)
        payment = await session.get(Payment, refund.payment_id) if refund else None
        assert refund is not None and payment is not None and payment.provider_payment_ref
        account, intent = payment.account, payment.provider_payment_ref
        amount, reason = refund.amount_vnd, refund.reason
    try:
        provider_ref = await anyio.to_thread.run_sync(
            lambda: provider.refund(
                account=account,
                provider_payment_ref=intent,
                amount_vnd=amount,
                reason=reason,
                idempotency_key=refund_key(tenant.slug, refund_id),
            )
        )
    except PaymentProviderError as exc:
        if exc.retryable:
            raise DossierError(
                Message("Chưa liên lạc được cổng thanh toán; yêu cầu hoàn tiền được giữ và sẽ tự gửi lại.")
            ) from None
        async with db.tenant_session(tenant) as session:
            await session.execute(
                update(Refund)
                .where(Refund.id == refund_id, Refund.status == RefundStatus.PENDING)
                .values(status=RefundStatus.FAILED, error=str(exc)[:1000], updated_at=func.now())
            )
        raise DossierError(
            Message("Cổng thanh toán từ chối hoàn tiền: %(reason)s", reason=str(exc))
        ) from None
    async with db.tenant_session(tenant) as session:
        refund = await locked(session, Refund, refund_id)
        assert refund is not None
        await _settle_refund(session, tenant, refund, provider_ref=provider_ref, actor=actor)
        return refund


async def _settle_refund(
    session: AsyncSession, tenant: Tenant, refund: Refund, *, provider_ref: str | None, actor: Actor | None
) -> None:
    """Record a refund the provider (or the desk) made, once, and tell the citizen; the payment
    becomes refunded when nothing is left of it."""
    if refund.status != RefundStatus.PENDING:
        return
    await session.execute(
        update(Refund)
        .where(Refund.id == refund.id)
        .values(status=RefundStatus.SUCCEEDED, provider_ref=provider_ref, updated_at=func.now())
    )
    payment = await locked(session, Payment, refund.payment_id)
    assert payment is not None
    await _set_refunded(session, payment, await _succeeded_refunds_vnd(session, payment.id))
    dossier = await session.get(Dossier, payment.dossier_id)
    assert dossier is not None
    await record_event(
        session,
        dossier,
        actor=actor or Actor.officer(refund.officer),
        reason=refund.reason,
        message=Message(REFUNDED, amount=Money(refund.amount_vnd)),
    )
    await tell_applicant(
        session,
        tenant,
        dossier,
        "payment_refunded",
        f"{dossier.id}:refund:{refund.id}",
        fee_vnd=refund.amount_vnd,
        reason=refund.reason,
    )
    await session.refresh(refund)


async def _succeeded_refunds_vnd(session: AsyncSession, payment_id: int) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(Refund.amount_vnd), 0)).where(
            Refund.payment_id == payment_id, Refund.status == RefundStatus.SUCCEEDED
        )
    )
    return int(total or 0)


async def _set_refunded(session: AsyncSession, payment: Payment, refunded_vnd: int) -> int:
    """Raise what the payment shows refunded to ``refunded_vnd`` (never lower it), marking it
    refunded once nothing is left. Our own refunds and the provider's refund events both land
    here and may arrive in either order: the larger figure wins, so nothing counts twice.
    Returns by how much it rose."""
    new = min(max(payment.refunded_vnd, refunded_vnd), payment.amount_vnd)
    risen = new - payment.refunded_vnd
    if risen <= 0:
        return 0
    values: dict[str, object] = {"refunded_vnd": new, "updated_at": func.now()}
    if new >= payment.amount_vnd:
        values["status"] = PaymentStatus.REFUNDED
    await session.execute(update(Payment).where(Payment.id == payment.id).values(**values))
    await session.refresh(payment)
    return risen


async def mirror_provider_refunds(session: AsyncSession, payment: Payment, amount_refunded: int) -> None:
    """The provider says ``amount_refunded`` of the payment went back (a ``charge.refunded``
    event): refunds made outside the portal (the provider's dashboard) show here too."""
    locked_payment = await locked(session, Payment, payment.id)
    assert locked_payment is not None
    risen = await _set_refunded(session, locked_payment, amount_refunded)
    ours = await _succeeded_refunds_vnd(session, payment.id)
    if risen and amount_refunded > ours:
        dossier = await session.get(Dossier, locked_payment.dossier_id)
        assert dossier is not None
        await record_event(
            session,
            dossier,
            actor=Actor.system("provider"),
            message=Message(PROVIDER_REFUNDED, amount=Money(amount_refunded)),
        )


async def refundable(session: AsyncSession, payment: Payment) -> int:
    """What is left to refund of a payment: not yet refunded, nor waiting for the provider."""
    if payment.status not in REFUNDABLE:
        return 0
    return payment.amount_vnd - payment.refunded_vnd - await _open_refunds_vnd(session, payment.id)


async def retry_pending_refunds(db: Database, provider: PaymentProvider, tenant: Tenant) -> int:
    """Ask again about refunds left pending by a crash or an outage (same idempotency key)."""
    async with db.tenant_session(tenant) as session:
        pending = (
            await session.scalars(
                select(Refund.id)
                .join(Payment, Payment.id == Refund.payment_id)
                .where(Refund.status == RefundStatus.PENDING, Payment.method == PaymentMethod.ONLINE)
            )
        ).all()
    done = 0
    for refund_id in pending:
        try:
            await _ask_provider(db, provider, tenant, refund_id)
            done += 1
        except DossierError:
            continue
    return done


async def refunds_of(session: AsyncSession, dossier_id: int) -> list[Refund]:
    return list(
        (
            await session.scalars(
                select(Refund)
                .join(Payment, Payment.id == Refund.payment_id)
                .where(Payment.dossier_id == dossier_id)
                .order_by(Refund.id)
            )
        ).all()
    )
