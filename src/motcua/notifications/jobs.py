"""Notification jobs: tell the citizen of every change they can see, and the officers of
deadlines. Actors take ids; the email's Message-ID comes from the same key on every retry,
and a sent key is remembered, so at-least-once delivery does not mean twice in effect."""

from __future__ import annotations

import logging

import dramatiq
import redis.asyncio as aioredis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.db import after_commit
from motcua.core.jobs import tenant_job_session
from motcua.core.settings import Settings, load_settings
from motcua.core.tenant import Tenant
from motcua.dossiers.models import ApologySlip, Dossier, DossierStatus
from motcua.identity.models import Citizen, Role, RoleGrant
from motcua.notifications.services import send_notification
from motcua.notifications.sms import normalise_phone, sms_provider
from motcua.notifications.templates import DossierNotice, NotificationEvent
from motcua.payments.models import Payment, Receipt, Refund

log = logging.getLogger(__name__)
SENT_TTL = 30 * 24 * 3600


def portal_url(settings: Settings, tenant: Tenant) -> str:
    if settings.is_production:
        return f"https://{tenant.slug}.{settings.platform_domain}"
    return f"http://{tenant.slug}.{settings.platform_domain}:{settings.port}"


async def _once(settings: Settings, key: str) -> bool:
    """True when ``key`` was not sent before (checked, not yet marked)."""
    client = aioredis.Redis.from_url(settings.redis_url or "")
    try:
        return not await client.exists(f"notified:{key}")
    finally:
        await client.aclose()


async def _mark(settings: Settings, key: str) -> None:
    client = aioredis.Redis.from_url(settings.redis_url or "")
    try:
        await client.set(f"notified:{key}", "1", ex=SENT_TTL)
    finally:
        await client.aclose()


def _notice(dossier: Dossier, **extra: object) -> DossierNotice:
    return DossierNotice(
        code=dossier.code,
        procedure_name=dossier.procedure_name,
        status_label=DossierStatus(dossier.status).label,
        applicant_name=dossier.applicant_name,
        due_at=dossier.due_at,
        **extra,  # type: ignore[arg-type]
    )


@dramatiq.actor(queue_name="notifications", max_retries=8, min_backoff=2000, max_backoff=600_000)
async def notify_citizen(tenant: str, dossier_id: int, event: str, key: str, ref: int | None = None) -> None:
    """``ref``: the id of what the event is about when a dossier may have several (a receipt,
    a refund)."""
    settings = load_settings()
    full_key = f"{tenant}:{key}"
    if not await _once(settings, full_key):
        return
    async with tenant_job_session(tenant) as (record, session):
        dossier = await session.get(Dossier, dossier_id)
        if dossier is None:
            return
        contact = (
            await session.execute(
                select(Citizen.email, Citizen.phone).where(Citizen.id == dossier.citizen_id)
            )
        ).one_or_none()
        email, phone = (contact.email, contact.phone) if contact is not None else (None, None)
        extra: dict[str, object] = {}
        chosen = NotificationEvent(event)
        if chosen == NotificationEvent.SUPPLEMENT_REQUESTED and dossier.supplement:
            extra = {
                "reason": dossier.supplement.get("reason"),
                "items": tuple(dossier.supplement.get("items", ())),
            }
        elif chosen in (NotificationEvent.DOSSIER_REFUSED,):
            extra = {"reason": await _last_reason(session, dossier.id) or "Không đủ điều kiện tiếp nhận"}
        elif chosen == NotificationEvent.PAYMENT_REQUESTED:
            extra = {"fee_vnd": dossier.fee_vnd}
        elif chosen == NotificationEvent.PAYMENT_RECEIVED:
            receipt = await session.scalar(
                select(Receipt).where(Receipt.dossier_id == dossier.id, Receipt.id == ref)
            )
            if receipt is None:
                return
            extra = {
                "fee_vnd": receipt.amount_vnd,
                "receipt": f"{receipt.series} số {receipt.display_number}",
                "receipt_id": receipt.id,
            }
        elif chosen == NotificationEvent.PAYMENT_REFUNDED:
            refund = await session.scalar(
                select(Refund)
                .join(Payment, Payment.id == Refund.payment_id)
                .where(Payment.dossier_id == dossier.id, Refund.id == ref)
            )
            if refund is None:
                return
            extra = {"fee_vnd": refund.amount_vnd, "reason": refund.reason}
        elif chosen == NotificationEvent.APOLOGY_ISSUED:
            slip = await session.scalar(
                select(ApologySlip)
                .where(ApologySlip.dossier_id == dossier.id)
                .order_by(ApologySlip.id.desc())
                .limit(1)
            )
            if slip is None:
                return
            extra = {"reason": slip.reason, "new_due_at": slip.new_due_at}
        notice = _notice(dossier, **extra)
    if email:
        await send_notification(
            settings,
            record,
            chosen,
            notice,
            [email],
            portal_url=portal_url(settings, record),
            idempotency_key=full_key,
        )
    if phone and settings.notifications_enabled:
        # A short text as well: many citizens read SMS, not email (status and code only).
        try:
            await sms_provider(settings).send(
                normalise_phone(phone), f"{record.name}: hồ sơ {notice.code} — {notice.status_label}"
            )
        except ValueError:
            log.warning("dossier %s: the citizen's phone number is not usable for SMS", notice.code)
    await _mark(settings, full_key)


async def _last_reason(session: object, dossier_id: int) -> str | None:
    from sqlalchemy.ext.asyncio import AsyncSession

    from motcua.dossiers.models import DossierHistory

    assert isinstance(session, AsyncSession)
    return await session.scalar(
        select(DossierHistory.reason)
        .where(DossierHistory.dossier_id == dossier_id)
        .order_by(DossierHistory.id.desc())
        .limit(1)
    )


@dramatiq.actor(queue_name="notifications", max_retries=8, min_backoff=2000, max_backoff=600_000)
async def notify_deadline(tenant: str, dossier_id: int, kind: str) -> None:
    """To the officer handling the dossier; an overdue one also to the tenant administrators."""
    settings = load_settings()
    async with tenant_job_session(tenant) as (record, session):
        dossier = await session.get(Dossier, dossier_id)
        if dossier is None:
            return
        key = f"{tenant}:deadline:{dossier_id}:{kind}:{dossier.due_at.isoformat()}"
        if not await _once(settings, key):
            return
        personal_ids = [dossier.assigned_to] if dossier.assigned_to else []
        if kind != "due_soon":
            admins = await session.scalars(
                select(RoleGrant.personal_id).where(RoleGrant.role == Role.TENANT_ADMIN)
            )
            personal_ids += list(admins)
        if not personal_ids and kind == "reception_overdue":
            officers = await session.scalars(
                select(RoleGrant.personal_id).where(RoleGrant.role == Role.OFFICER)
            )
            personal_ids += list(officers)
        emails: list[str] = [
            e
            for e in (
                await session.scalars(
                    select(Citizen.email).where(
                        Citizen.personal_id.in_(personal_ids), Citizen.email.is_not(None)
                    )
                )
            ).all()
            if e
        ]
        event = (
            NotificationEvent.DEADLINE_DUE_SOON if kind == "due_soon" else NotificationEvent.DEADLINE_OVERDUE
        )
        notice = _notice(dossier)
    if emails:
        await send_notification(
            settings,
            record,
            event,
            notice,
            list(emails),
            portal_url=portal_url(settings, record),
            idempotency_key=key,
        )
    await _mark(settings, key)


def notify_after_commit(
    session: AsyncSession, tenant: Tenant, dossier_id: int, event: str, key: str, *, ref: int | None = None
) -> None:
    """Queue the citizen's notification to be sent once ``session``'s transaction commits."""
    slug = tenant.slug
    after_commit(
        session,
        lambda: notify_citizen.send(tenant=slug, dossier_id=dossier_id, event=event, key=key, ref=ref),
    )


# Which citizen-visible event each officer action produces.
ACTION_EVENTS = {
    "accept": NotificationEvent.DOSSIER_ACCEPTED,
    "refuse": NotificationEvent.DOSSIER_REFUSED,
    "request_supplement": NotificationEvent.SUPPLEMENT_REQUESTED,
    "request_payment": NotificationEvent.PAYMENT_REQUESTED,
    "finish": NotificationEvent.DOSSIER_PROCESSED,
    "deliver": NotificationEvent.RESULT_DELIVERED,
    "withdraw": NotificationEvent.DOSSIER_WITHDRAWN,
}
